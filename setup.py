# SPDX-License-Identifier: MIT
# cffi's setuptools hook needs setup(); everything else is in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["orchestrator/_build_native.py:ffibuilder"])
