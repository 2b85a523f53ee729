# Unit tests: every module.mk adds NAME to UNIT_TESTS and lists test-NAME_SRCS (and optionally
# test-NAME_OBJS, test-NAME_LIBS); each becomes build/host/tests/unit/test-NAME, linked with cmocka under
# ASan and UBSan. Integration tests are scripts in tests/integration and tests/vm, run by tests/run.sh.

define unit_test_rule
$(BUILD)/host/tests/unit/test-$(1): $(call host_objs,$(test-$(1)_SRCS)) $(test-$(1)_OBJS)
	@mkdir -p $$(@D)
	$(HOST_CC) $(HOST_LDFLAGS) $$^ -o $$@ -lcmocka $(test-$(1)_LIBS)
TEST_BINS += $(BUILD)/host/tests/unit/test-$(1)
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_test_rule,$(t))))

all: $(TEST_BINS)

check: $(STAMPS)/deps
	$(MAKE) all
	./tests/run.sh
