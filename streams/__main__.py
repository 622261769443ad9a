"""`python -m streams [faust worker options]`: the same as `switchboard worker`."""

import sys

from streams.worker import run

run(sys.argv[1:])
