"""The bench's Django project (bench/bench.py): startproject's settings and
middleware, no database access, one view per scenario of `make bench`."""
