#!/usr/bin/env bash
# linux-arm64 from an x86-64 Debian machine with Debian's cross compiler (apt-get install g++-aarch64-linux-gnu
# qemu-user cmake make python3).
#
#   bash scripts/cross-arm64.sh pack       `npm pack`'s step: `prebuild` when the cross compiler is installed,
#                                          else removes prebuilds/linux-arm64 with a note (linux-x64 only)
#   bash scripts/cross-arm64.sh prebuild   builds prebuilds/linux-arm64/myelin.node from binding.gyp (node-gyp
#                                          --arch=arm64 through prebuildify, stripped) and checks the binary
#                                          (AArch64 ELF, exports napi_register_module_v1, needs nothing but
#                                          N-API and the C/C++ runtime)
#   bash scripts/cross-arm64.sh            the above, then (with qemu-aarch64):
#                                          - CMakeLists.txt cross build of the kernels and the C++ unit tests,
#                                            each run under qemu-aarch64
#                                          - Debian 12's arm64 node (downloaded with apt-get into a private
#                                            directory; nothing is installed) loads the prebuild under qemu and
#                                            runs scripts/smoke-native.js against dist/
# Prints "PASS arm64: ..." / "FAIL arm64: ..." per check; exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-all}
pass=0; fail=0
ok() { echo "PASS arm64: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL arm64: $*"; fail=$((fail + 1)); }
finish() { echo "arm64: ${pass} passed, ${fail} failed"; [ "$fail" = 0 ]; exit $?; }

TRIPLE=aarch64-linux-gnu
if [ "$mode" = pack ] && ! command -v "$TRIPLE-g++" >/dev/null; then
  # npm pack without the cross compiler: ship linux-x64 only, never a stale arm64 binary.
  rm -rf prebuilds/linux-arm64
  echo "note: $TRIPLE-g++ not installed, the package carries no linux-arm64 prebuild (apt-get install g++-aarch64-linux-gnu)"
  exit 0
fi
if ! command -v "$TRIPLE-g++" >/dev/null; then
  ko "$TRIPLE-g++ not found (apt-get install g++-aarch64-linux-gnu)"
  finish
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- 1. the addon through binding.gyp, in a copy of the sources (build/ keeps the host's build) ----
mkdir "$work/src"
cp -r binding.gyp package.json native "$work/src/"
ln -s "$root/node_modules" "$work/src/node_modules"
{ read -r node_gyp; read -r nodedir; } < <(node scripts/node-gyp.js)
mkdir -p prebuilds
if (cd "$work/src" && env CC=$TRIPLE-gcc CXX=$TRIPLE-g++ AR=$TRIPLE-ar LINK=$TRIPLE-g++ \
      ${nodedir:+npm_config_nodedir=$nodedir} PREBUILD_NODE_GYP="$node_gyp" \
      node "$root/node_modules/prebuildify/bin.js" --napi --strip --arch arm64 --strip-bin $TRIPLE-strip \
      --out "$root" >"$work/prebuild.log" 2>&1); then
  ok "addon cross-compiled from binding.gyp: prebuilds/linux-arm64/myelin.node ($(stat -c %s prebuilds/linux-arm64/myelin.node) bytes)"
else
  tail -30 "$work/prebuild.log"; ko "addon cross-compile (node-gyp --arch=arm64) failed"
fi

addon=prebuilds/linux-arm64/myelin.node
if [ -f "$addon" ]; then
  machine=$($TRIPLE-readelf -h "$addon" | awk -F: '/Machine/ {gsub(/^ +/, "", $2); print $2}')
  syms=$($TRIPLE-readelf --dyn-syms -W "$addon")  # read once: `readelf | grep -q` fails under pipefail (SIGPIPE)
  # Undefined, non-weak, unversioned symbols must all be N-API's (provided by node at load time), or the three
  # libuv calls of predictAsync's detached path (plan.cc: uv_async_init/send, uv_close), which every node since 10
  # exports with libuv 1.x's stable ABI (the handle comes from napi_get_uv_event_loop). Nothing else from libuv.
  stray=$(awk '$7 == "UND" && $5 != "WEAK" && $8 != "" && $8 !~ /@/ && $8 !~ /^(napi_|node_api_)/ && $8 !~ /^(uv_async_init|uv_async_send|uv_close)$/ {print $8}' <<<"$syms")
  glibc=$(grep -Eo 'GLIBC_[0-9.]+' <<<"$syms" | sort -t. -k2,2n -k3,3n -u | tail -1)
  exported=$(awk '$7 != "UND" && $8 == "napi_register_module_v1"' <<<"$syms")
  if [ "$machine" = AArch64 ] && [ -z "$stray" ] && [ -n "$exported" ]; then
    ok "$addon is an AArch64 shared object exporting napi_register_module_v1, needing N-API, three libuv calls and libc/libstdc++ only (newest symbol version ${glibc:-none})"
  else
    ko "$addon: machine '$machine', napi_register_module_v1 ${exported:+exported}${exported:-missing}, unexpected undefined symbols: ${stray:-none}"
  fi
fi
[ "$mode" = prebuild ] || [ "$mode" = pack ] && finish

if ! command -v qemu-aarch64 >/dev/null; then
  ko "qemu-aarch64 not found (apt-get install qemu-user): the arm64 tests cannot run"
  finish
fi

# ---- 2. kernels + C++ unit tests from CMakeLists.txt, run under qemu by ctest ----
sysroot=/usr/$TRIPLE
if cmake -S . -B "$work/cmake" -DCMAKE_BUILD_TYPE=Release -DMYELIN_BUILD_TESTS=ON \
     -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
     -DCMAKE_C_COMPILER=$TRIPLE-gcc -DCMAKE_CXX_COMPILER=$TRIPLE-g++ >"$work/cmake.log" 2>&1 \
   && cmake --build "$work/cmake" -j2 >>"$work/cmake.log" 2>&1; then
  ok "kernels and C++ tests cross-compiled with CMake (no x86 ISA flags on aarch64)"
  # Each test ctest knows, run under qemu here rather than by ctest: emulated, kernels_test takes ~80 s on an
  # idle machine and several times that on a busy one, past the 300 s TIMEOUT set for native runs.
  for t in $(cd "$work/cmake" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p'); do
    exe=$(find "$work/cmake" -type f -name "$t" -perm -u+x | head -1)
    t0=$(date +%s)
    if [ -n "$exe" ] && timeout 1800 qemu-aarch64 -L "$sysroot" "$exe" >"$work/$t.log" 2>&1; then
      ok "C++ test $t under qemu-aarch64 ($(( $(date +%s) - t0 )) s)"
    else
      tail -20 "$work/$t.log" 2>/dev/null; ko "C++ test $t under qemu-aarch64"
    fi
  done
else
  tail -30 "$work/cmake.log"; ko "CMake cross build failed"
fi

# ---- 3. the prebuild in a real arm64 node (Debian 12's nodejs package, unpacked, not installed) ----
noderoot=/tmp/myelin-arm64-node  # kept between runs: a 25 MB download
if [ ! -x "$noderoot/usr/bin/node" ]; then
  apt="$work/apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  touch "$apt/status"
  opts=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o "Dir::State::Lists=$apt/lists"
        -o "Dir::Cache=$apt/cache" -o "Dir::State::status=$apt/status" -o Debug::NoLocking=1 -qq)
  if apt-get "${opts[@]}" update >"$work/apt.log" 2>&1 \
     && apt-get "${opts[@]}" install -y --download-only --no-install-recommends nodejs >>"$work/apt.log" 2>&1; then
    rm -rf "$noderoot.tmp" && mkdir -p "$noderoot.tmp"
    for deb in "$apt"/cache/archives/*.deb; do dpkg -x "$deb" "$noderoot.tmp"; done
    rm -rf "$noderoot" && mv "$noderoot.tmp" "$noderoot"
  else
    tail -10 "$work/apt.log"
  fi
fi
if [ -x "$noderoot/usr/bin/node" ] && [ -f "$addon" ]; then
  if MYELIN_ADDON_PATH=$root/$addon qemu-aarch64 -L "$noderoot" "$noderoot/usr/bin/node" scripts/smoke-native.js; then
    ok "the linux-arm64 prebuild loads in arm64 node $(qemu-aarch64 -L "$noderoot" "$noderoot/usr/bin/node" -p process.version) under qemu and agrees with the pure-TS backend"
  else
    ko "the linux-arm64 prebuild failed its smoke test under qemu"
  fi
else
  ko "no arm64 node to smoke-test the prebuild with (apt-get download of nodejs:arm64 failed)"
fi
finish
