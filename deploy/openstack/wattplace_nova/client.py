"""gRPC client of wattplace: channel and thin stubs.

The stubs are what grpc's code generator would emit (one ``channel.unary_unary``
per method, serialized with the generated message classes); they are written
here because Debian's grpc-tools is too old (see ../gen-proto.sh).
"""

import threading

import grpc

from wattplace_nova._gen.wattplace.v1 import wattplace_pb2 as pb

__all__ = ["pb", "PlacementStub", "TelemetryStub", "channel_for", "close_channels"]

_PLACEMENT = "/wattplace.v1.PlacementService/"
_TELEMETRY = "/wattplace.v1.TelemetryService/"

# Reconnect quickly once wattplace is back (gRPC's default backoff grows to
# 120 s, which would keep a fail-open plugin bypassing a recovered service).
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.enable_http_proxy", 0),
)


def _unary(channel, path, req_cls, res_cls):
    return channel.unary_unary(
        path,
        request_serializer=req_cls.SerializeToString,
        response_deserializer=res_cls.FromString,
    )


class PlacementStub(object):
    def __init__(self, channel):
        self.Evaluate = _unary(channel, _PLACEMENT + "Evaluate", pb.EvaluateRequest, pb.EvaluateResponse)
        self.Place = _unary(channel, _PLACEMENT + "Place", pb.PlaceRequest, pb.PlaceResponse)
        self.Release = _unary(channel, _PLACEMENT + "Release", pb.ReleaseRequest, pb.ReleaseResponse)


class TelemetryStub(object):
    def __init__(self, channel):
        self.RegisterHosts = _unary(
            channel, _TELEMETRY + "RegisterHosts", pb.RegisterHostsRequest, pb.RegisterHostsResponse
        )
        self.Report = _unary(channel, _TELEMETRY + "Report", pb.ReportRequest, pb.ReportResponse)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


_lock = threading.Lock()
_channels = {}


def channel_for(endpoint, ca_file=None, cert_file=None, key_file=None):
    """One shared channel per (endpoint, TLS files): gRPC channels are
    thread-safe and multiplex calls, so every request reuses it."""
    key = (endpoint, ca_file, cert_file, key_file)
    with _lock:
        ch = _channels.get(key)
        if ch is None:
            if ca_file or cert_file or key_file:
                if bool(cert_file) != bool(key_file):
                    raise ValueError("[wattplace] cert_file and key_file must be set together")
                creds = grpc.ssl_channel_credentials(
                    root_certificates=_read(ca_file) if ca_file else None,
                    private_key=_read(key_file) if key_file else None,
                    certificate_chain=_read(cert_file) if cert_file else None,
                )
                ch = grpc.secure_channel(endpoint, creds, options=CHANNEL_OPTIONS)
            else:
                ch = grpc.insecure_channel(endpoint, options=CHANNEL_OPTIONS)
            _channels[key] = ch
        return ch


def close_channels():
    """Closes every shared channel (tests, or after changing the endpoint)."""
    with _lock:
        chans = list(_channels.values())
        _channels.clear()
    for ch in chans:
        ch.close()
