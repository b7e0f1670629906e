#!/usr/bin/env bash
# Generates the Python message classes of proto/wattplace/v1/wattplace.proto for
# the Nova plugin with Debian's protobuf compiler (packages protobuf-compiler and libprotobuf-dev for the well-known types,
# protoc 3.21.12): the same protobuf release (21.12) as Debian's python3-protobuf
# 3.21.12, whose Python runtime calls itself 4.21.12.
# The gRPC stubs are written by hand in wattplace_nova/client.py (generic
# channel.unary_unary with the message classes' serializers, which is all the
# grpc plugin would emit). Debian's python3-grpc-tools 1.14 bundles protoc
# 3.5.1: its output imports with Debian's cpp-backend runtime, but it is the
# pre-3.19 descriptor style that protobuf >= 4.21 with the upb backend (the PyPI
# default) refuses ("Descriptors cannot be created directly"), so it is not used.
# The output is committed; rerun after changing the proto.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/wattplace_nova/_gen"
command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler libprotobuf-dev" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
protoc -I "$root/proto" -I /usr/include --python_out="$out" "$root/proto/wattplace/v1/wattplace.proto"
touch "$out/__init__.py" "$out/wattplace/__init__.py" "$out/wattplace/v1/__init__.py"
# protoc writes absolute imports of sibling protos ("from wattplace.v1 import");
# wattplace.proto imports only google/protobuf/timestamp.proto, which the runtime ships.
if grep -q '^from wattplace' "$out/wattplace/v1/wattplace_pb2.py"; then
  echo "unexpected import of a wattplace proto in generated code; adjust gen-proto.sh" >&2; exit 1
fi
echo "generated with $(protoc --version) into ${out#$root/}"
