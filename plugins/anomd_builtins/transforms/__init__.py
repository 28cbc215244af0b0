"""Built-in streaming feature transforms: one module per transform, each a plugin."""
