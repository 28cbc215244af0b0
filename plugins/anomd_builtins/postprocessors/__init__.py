"""Built-in score post-processors (see ``anomd.postprocessors``)."""
