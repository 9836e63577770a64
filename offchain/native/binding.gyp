{
  "targets": [
    {
      "target_name": "openlora_native",
      "sources": ["src/addon.c", "src/keccak.c"],
      "libraries": ["-lsecp256k1"],
      "cflags": ["-O3", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
