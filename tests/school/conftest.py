"""The school demo's tests: they run with the others and go with the demo
(`flask feature remove school`)."""
