"""The optional C accelerator of the draw's bulk hashing (drawsvc/draw/_fasthash.c).

Everything else is in pyproject.toml. `optional=True`: where a compiler, the Python headers
or OpenSSL's headers are missing, installation goes on without it and the pure-Python path
(the same bytes, slower) is used.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("drawsvc.draw._fasthash", ["drawsvc/draw/_fasthash.c"], libraries=["crypto"],
                             optional=True)])
