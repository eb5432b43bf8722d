# Builds native/build/Release/rstprobe_native.node (node-gyp, run by `npm install`).
# The addon is Linux-only: AF_PACKET, TPACKET_V3 and tracefs do not exist elsewhere.
{
  "targets": [
    {
      "target_name": "rstprobe_native",
      "sources": [
        "src/addon.cc",
        "src/arguments.cc",
        "src/capture_scan.cc",
        "src/clocks.cc",
        "src/errors.cc",
        "src/interface_index.cc",
        "src/packet_ring.cc",
        "src/poll_reader.cc",
        "src/polled_fd.cc",
        "src/storm_guard.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # A worker thread that is stopped (worker.terminate(), process.exit) while in an
        # addon call: N-API calls then fail, and node-addon-api would throw a C++
        # exception it cannot turn into a JavaScript one, which aborts the process.
        # With this it returns quietly instead (node-addon-api doc/setup.md).
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-Wall", "-Wextra"],
      "cflags_cc": ["-Wall", "-Wextra", "-fexceptions"]
    }
  ]
}
