.PHONY: run test bench
# Start sekia (headless daemon in the foreground).
run:
	@scripts/run.sh
# The whole test suite, as CI runs it.
test:
	@scripts/test.sh
# Benchmarks; figures go into README.md's performance section.
bench:
	@scripts/bench.sh
