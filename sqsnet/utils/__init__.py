"""Shared plumbing with no model or data knowledge: file I/O and the runtime.

* :mod:`sqsnet.utils.io`: atomic writes (a file is never half-written).
* :mod:`sqsnet.utils.runtime`: seeding, autocast precision, CPU feature probes and the
  hardware description that every measured time carries.
"""
