# Type stub for the cffi-built module: its attributes come from native/include.
from typing import Any

ffi: Any
lib: Any
