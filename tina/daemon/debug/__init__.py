"""The live actor tree: `tree.render` is pure; `live.run` drives rich.Live from trio."""
