"""anomd-s3: keeps anomd models and checkpoints in any S3-compatible bucket.

The plugin itself is :mod:`anomd_s3.storage`, loaded through the ``anomd`` entry-point group;
:mod:`anomd_s3.testing` starts a real S3 endpoint on 127.0.0.1 for tests.
"""

__version__ = "0.1.0"
