"""The candle endpoint's modes: one module per framework, named for it, and the floor diagnostic."""
