"""The committed message classes (wattplace_nova/_gen, made by gen-proto.sh)
still agree with proto/wattplace/v1/wattplace.proto for every message, enum
and method the plugin and its tests use. Additions elsewhere in the proto do
not matter to the plugin (rerun ./gen-proto.sh to pick them up); a change to
one of these does and fails here."""

import os
import subprocess
import tempfile
import unittest

from google.protobuf import descriptor_pb2

from tests import support
from wattplace_nova.client import pb

USED_MESSAGES = [
    "Resources", "PowerModel", "LinearPower", "TablePower", "Host", "RegisterHostsRequest",
    "RegisterHostsResponse", "HostSample", "ReportRequest", "ReportResponse", "SampleError",
    "Workload", "Candidate", "EvaluateRequest", "EvaluateResponse", "HostScore", "Rejection",
]
USED_METHODS = {"PlacementService": ["Evaluate", "Place", "Release"], "TelemetryService": ["RegisterHosts", "Report"]}


def current_proto():
    with tempfile.TemporaryDirectory() as out:
        path = os.path.join(out, "set.pb")
        r = subprocess.run(
            ["protoc", "-I", os.path.join(support.REPO, "proto"), "-I", "/usr/include", "--descriptor_set_out=" + path,
             os.path.join(support.REPO, "proto", "wattplace", "v1", "wattplace.proto")],
            capture_output=True, text=True,
        )
        if r.returncode != 0:
            raise AssertionError("protoc: " + r.stderr)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(path, "rb") as f:
            fds.ParseFromString(f.read())
    file = next(f for f in fds.file if f.name == "wattplace/v1/wattplace.proto")

    def strip(msgs):  # protoc adds json_name to descriptor sets, not to generated code
        for m in msgs:
            for fld in m.field:
                fld.ClearField("json_name")
            strip(m.nested_type)

    strip(file.message_type)
    return file


class GeneratedCodeTest(unittest.TestCase):
    def test_generated_code_agrees_with_proto(self):
        fresh = current_proto()
        committed = descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)
        self.assertEqual(committed.package, fresh.package)
        fm = {m.name: m for m in fresh.message_type}
        cm = {m.name: m for m in committed.message_type}
        for name in USED_MESSAGES:
            self.assertIn(name, fm, "message %s gone from the proto" % name)
            self.assertEqual(cm[name], fm[name], "message %s changed: run deploy/openstack/gen-proto.sh" % name)
        self.assertEqual({e.name: e for e in committed.enum_type}["PowerState"],
                         {e.name: e for e in fresh.enum_type}["PowerState"])
        fs = {s.name: {m.name: m for m in s.method} for s in fresh.service}
        cs = {s.name: {m.name: m for m in s.method} for s in committed.service}
        for svc, methods in USED_METHODS.items():
            for m in methods:
                self.assertEqual(cs[svc][m], fs[svc][m], "%s.%s changed: run gen-proto.sh" % (svc, m))
