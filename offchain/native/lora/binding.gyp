{
  "targets": [
    {
      "target_name": "openlora_lora",
      "sources": ["src/lora.c"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-Wno-psabi"],
      "libraries": ["-lm"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
