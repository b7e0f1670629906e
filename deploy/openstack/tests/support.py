"""Shared set-up of the Nova plugin tests and benchmark: a running wattplace,
Nova's configuration, real HostStates and RequestSpecs, Nova's host manager.

Nothing here stands in for the code under test: filtering, weighing and host
sorting are Nova's own (HostFilterHandler, HostWeightHandler,
SchedulerManager._get_sorted_hosts / _legacy_find_hosts) and wattplace is the
real service, spawned from dist/main.js on free loopback ports.
"""

import atexit
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(HERE)  # deploy/openstack
REPO = os.path.dirname(os.path.dirname(PKG_ROOT))
FIXTURES = os.path.join(HERE, "fixtures")
if PKG_ROOT not in sys.path:
    sys.path.insert(0, PKG_ROOT)

import grpc  # noqa: E402
from google.protobuf import timestamp_pb2  # noqa: E402

from nova import objects  # noqa: E402

objects.register_all()

import nova.conf  # noqa: E402
from nova.scheduler import host_manager  # noqa: E402
from nova.scheduler import manager as scheduler_manager  # noqa: E402

from wattplace_nova import client  # noqa: E402
from wattplace_nova import evaluation  # noqa: E402
from wattplace_nova.client import pb  # noqa: E402

CONF = nova.conf.CONF
MIB = 1024 * 1024
CELL = "00000000-0000-0000-0000-00000000ce11"

_parsed = False


_dbdir = None


def configure(conf_file="nova-wattplace.conf"):
    """Parses nova.conf the way nova-scheduler does (project 'nova'), and gives
    Nova a real API database: a SQLite file in a temporary directory, created
    with Nova's own schema migrations, so HostManager starts as in production
    (it reads cell mappings and aggregates from it)."""
    global _parsed, _dbdir
    if not _parsed:
        CONF([], project="nova", default_config_files=[os.path.join(FIXTURES, conf_file)])
        _dbdir = tempfile.mkdtemp(prefix="wattplace-nova-db-")
        atexit.register(shutil.rmtree, _dbdir, True)
        CONF.set_override("connection", "sqlite:///" + os.path.join(_dbdir, "nova_api.sqlite"), group="api_database")
        CONF.set_override("connection", "sqlite:///" + os.path.join(_dbdir, "nova.sqlite"), group="database")
        from nova.db import migration

        migration.db_sync(database="api")
        from nova import rpc

        rpc.init(CONF)
        _parsed = True
    return CONF


def admin_context():
    from nova import context

    return context.get_admin_context()


def create_aggregate(name, hosts, metadata):
    """A real aggregate in the API database."""
    agg = objects.Aggregate(admin_context(), name=name, metadata=metadata)
    agg.create()
    for h in hosts:
        agg.add_host(h)
    return agg


def reset_plugin_state():
    """Forget cached answers and warning timestamps between tests (module state,
    not instance state: the plugin keeps none on self)."""
    evaluation.CACHE.clear()
    evaluation.THROTTLE.reset()
    client.close_channels()


# ------------------------------------------------------------------ wattplace


def _read(path):
    with open(path, "rb") as f:
        return f.read()


class _AuthInterceptor(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, token):
        self._md = (("authorization", "Bearer " + token),)

    def intercept_unary_unary(self, continuation, details, request):
        details = details._replace(metadata=tuple(details.metadata or ()) + self._md)
        return continuation(details, request)


def make_pki(directory):
    """CA, server certificate for 127.0.0.1, client certificate (EC P-256,
    openssl CLI), as test/security/certs.ts makes them."""

    def ossl(*args):
        subprocess.run(["openssl"] + list(args), cwd=directory, check=True, capture_output=True)

    def ca(name):
        ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + ".key")
        ossl("req", "-x509", "-new", "-key", name + ".key", "-subj", "/CN=" + name, "-days", "2", "-out", name + ".crt")

    def leaf(name, ca_name, ext):
        ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + ".key")
        ossl("req", "-new", "-key", name + ".key", "-subj", "/CN=" + name, "-out", name + ".csr")
        with open(os.path.join(directory, name + ".ext"), "w") as f:
            f.write(ext)
        ossl("x509", "-req", "-in", name + ".csr", "-CA", ca_name + ".crt", "-CAkey", ca_name + ".key",
             "-CAcreateserial", "-days", "2", "-extfile", name + ".ext", "-out", name + ".crt")

    ca("ca")
    leaf("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    leaf("client", "ca", "extendedKeyUsage=clientAuth\n")
    with open(os.path.join(directory, "token"), "w") as f:
        f.write("s3cret-token-for-tests\n")
    with open(os.path.join(directory, "wrong-token"), "w") as f:
        f.write("not-the-token\n")
    return {k: os.path.join(directory, v) for k, v in {
        "ca": "ca.crt", "server_cert": "server.crt", "server_key": "server.key",
        "cert": "client.crt", "key": "client.key", "token": "token", "wrong_token": "wrong-token"}.items()}


class Wattplace(object):
    """A real wattplace process on free loopback ports."""

    def __init__(self, *extra_args, tls=None):
        """tls: optional dict of PEM file paths {ca, cert, key} and token file
        {token} for the test's own client when wattplace runs with TLS/auth."""
        self.tls = tls or {}
        main = os.environ.get("WATTPLACE_MAIN", os.path.join(REPO, "dist", "main.js"))
        if not os.path.exists(main):
            raise RuntimeError("%s missing: run `npm run build` first" % main)
        args = ["node", main, "serve", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "info"]
        self.proc = subprocess.Popen(
            args + list(extra_args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        self.log = []
        deadline = time.monotonic() + 30
        self.grpc = self.http = None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.log.append(line.decode(errors="replace"))
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("msg") == "wattplace serving":
                self.grpc, self.http = rec["grpc"], rec["http"]
                break
        if not self.grpc:
            self.stop()
            raise RuntimeError("wattplace did not start:\n" + "".join(self.log))
        # keep draining its output so it never blocks on a full pipe
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()
        if self.tls.get("ca"):
            creds = grpc.ssl_channel_credentials(
                root_certificates=_read(self.tls["ca"]),
                private_key=_read(self.tls["key"]) if self.tls.get("key") else None,
                certificate_chain=_read(self.tls["cert"]) if self.tls.get("cert") else None,
            )
            self.channel = grpc.secure_channel(self.grpc, creds)
        else:
            self.channel = grpc.insecure_channel(self.grpc)
        if self.tls.get("token"):
            token = _read(self.tls["token"]).decode().strip()
            self.channel = grpc.intercept_channel(self.channel, _AuthInterceptor(token))
            self._auth = {"Authorization": "Bearer " + token}
        else:
            self._auth = {}
        self.telemetry = client.TelemetryStub(self.channel)
        self.placement = client.PlacementStub(self.channel)

    def _read_rest(self):
        for line in self.proc.stdout:
            self.log.append(line.decode(errors="replace"))

    def stop(self):
        # the plugin's shared channels keep connections open, which would hold
        # wattplace's graceful shutdown for its whole grace period
        client.close_channels()
        if getattr(self, "channel", None) is not None:
            self.channel.close()
            self.channel = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        drain = getattr(self, "_drain", None)
        if drain is not None:
            drain.join(5)
        self.proc.stdout.close()

    def metric(self, name, **labels):
        """Sum of a Prometheus counter's samples matching the labels."""
        req = urllib.request.Request("http://%s/metrics" % self.http, headers=self._auth)
        text = urllib.request.urlopen(req, timeout=5).read().decode()
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            m = re.match(r"^(\w+)(?:\{(.*)\})?\s+(\S+)$", line)
            if not m or m.group(1) != name:
                continue
            got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            if all(got.get(k) == v for k, v in labels.items()):
                total += float(m.group(3))
        return total

    def evaluate_calls(self):
        return self.metric("wattplace_decisions_total", rpc="Evaluate")

    def register(self, hosts):
        """hosts: dicts {id, cores, mem_gib, power: ('linear', idle, max) |
        ('table', [11 watts]), standby_watts, state, labels}."""
        msgs = []
        for h in hosts:
            kind = h["power"][0]
            if kind == "linear":
                power = pb.PowerModel(linear=pb.LinearPower(idle_watts=h["power"][1], max_watts=h["power"][2]))
            else:
                power = pb.PowerModel(table=pb.TablePower(watts=h["power"][1]))
            power.standby_watts = h.get("standby_watts", 0.0)
            msgs.append(
                pb.Host(
                    id=h["id"],
                    capacity=pb.Resources(cpu_millis=h["cores"] * 1000, mem_bytes=h["mem_gib"] * 1024 * MIB),
                    power=power,
                    state=getattr(pb, "POWER_STATE_" + h.get("state", "ON")),
                    labels=h.get("labels", {}),
                )
            )
        return self.telemetry.RegisterHosts(pb.RegisterHostsRequest(hosts=msgs), timeout=30)

    def report(self, samples, age_s=0):
        """samples: (host id, watts, cpu_util, mem_util) taken age_s seconds ago."""
        ts = timestamp_pb2.Timestamp()
        ts.FromMilliseconds(int((time.time() - age_s) * 1000))
        res = self.telemetry.Report(
            pb.ReportRequest(
                samples=[pb.HostSample(host_id=i, time=ts, watts=w, cpu_util=c, mem_util=m) for i, w, c, m in samples]
            ),
            timeout=30,
        )
        if res.rejected:
            raise AssertionError("samples rejected: %s" % res.errors)
        # decisions read a snapshot rebuilt at most every snapshotRefreshMs (50 ms)
        time.sleep(0.15)
        return res


# ------------------------------------------------------------------ Nova objects


def host_state(name, vcpus=16, vcpus_used=0, memory_mb=65536, memory_mb_used=0, cpu_ratio=1.0, ram_ratio=1.0,
               hypervisor_hostname=None, aggregates=None):
    """A real HostState, updated from a real ComputeNode and service record,
    as HostManager builds them."""
    now = datetime.datetime.utcnow()
    cn = objects.ComputeNode(
        id=abs(hash(name)) % 100000,
        uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
        host=name,
        hypervisor_hostname=hypervisor_hostname or name,
        hypervisor_type="QEMU",
        hypervisor_version=7002000,
        cpu_info="{}",
        vcpus=vcpus,
        vcpus_used=vcpus_used,
        memory_mb=memory_mb,
        memory_mb_used=memory_mb_used,
        free_ram_mb=memory_mb - memory_mb_used,
        local_gb=1000,
        local_gb_used=0,
        free_disk_gb=1000,
        disk_available_least=1000,
        host_ip="192.0.2.1",
        supported_hv_specs=[objects.HVSpec(arch="x86_64", hv_type="kvm", vm_mode="hvm")],
        numa_topology=None,
        pci_device_pools=None,
        stats={},
        metrics="[]",
        cpu_allocation_ratio=cpu_ratio,
        ram_allocation_ratio=ram_ratio,
        disk_allocation_ratio=1.0,
        running_vms=0,
        current_workload=0,
        updated_at=None,
    )
    hs = host_manager.HostState(name, cn.hypervisor_hostname, CELL)
    hs.update(
        compute=cn,
        service={
            "host": name,
            "binary": "nova-compute",
            "disabled": False,
            "forced_down": False,
            "last_seen_up": now,
            "created_at": now,
            "updated_at": now,
        },
        aggregates=aggregates or [],
        inst_dict={},
    )
    return hs


def request_spec(vcpus=2, memory_mb=4096, extra_specs=None, num_instances=1, rebuild=False, instance_uuid=None):
    hints = {"_nova_check_type": ["rebuild"]} if rebuild else {}
    return objects.RequestSpec(
        instance_uuid=instance_uuid or str(uuid.uuid4()),
        project_id="p",
        user_id="u",
        num_instances=num_instances,
        flavor=objects.Flavor(
            vcpus=vcpus,
            memory_mb=memory_mb,
            root_gb=10,
            ephemeral_gb=0,
            swap=0,
            extra_specs=extra_specs or {},
        ),
        image=objects.ImageMeta.from_dict({"properties": {}}),
        scheduler_hints=hints,
        pci_requests=objects.InstancePCIRequests(requests=[]),
        numa_topology=None,
        instance_group=None,
        requested_destination=None,
        ignore_hosts=None,
        force_hosts=None,
        force_nodes=None,
        retry=None,
        availability_zone=None,
        is_bfv=False,
        security_groups=objects.SecurityGroupList(objects=[]),
    )


def scheduler():
    """A SchedulerManager with Nova's real HostManager (filters and weighers
    loaded from [filter_scheduler], cells and aggregates read from the API
    database) for its host-sorting path (_get_sorted_hosts,
    _legacy_find_hosts). SchedulerManager's own constructor is skipped: besides
    the HostManager it only opens the RPC notifier and the placement API
    client (keystone), which those methods do not use and which do not run
    here."""
    sm = scheduler_manager.SchedulerManager.__new__(scheduler_manager.SchedulerManager)
    sm.host_manager = host_manager.HostManager()
    return sm
