# lcrun against crun and runc: `make bench-lcrun` (root; crun and runc from Debian: apt-get install -y crun runc).
# The optimised build/rel/lcrun is defined in libcontainer-c/exec.mk. Include from the top-level Makefile after
# libcontainer-c/module.mk.
.PHONY: bench-lcrun
bench-lcrun: $(STAMPS)/deps $(BUILD)/rel/lcrun
	./bench/lcrun.sh $(BUILD)/rel/lcrun

bench: bench-lcrun
