/* config.json → lc_spec → lc_config, and lc_spec → protobuf Spec → lc_spec: any bytes, any length. The
 * sanitizers catch memory errors; the asserts catch a reader that accepts what the writer cannot round-trip. */
#include <stdlib.h>

#include "libcontainer-c/specconv.h"
#include "oci.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	_cleanup_(lc_spec_freep) lc_spec *s = NULL;
	kc_error err;

	if (lc_spec_from_json((const char *)data, size, &s, &err) < 0)
		return 0;

	/* Both ways the agent and lcrun would call it. */
	static const lc_specconv_opts opts[] = {
		{0, 0},
		{LC_NS_BIT(LC_NS_NET) | LC_NS_BIT(LC_NS_IPC) | LC_NS_BIT(LC_NS_UTS), LC_SPECCONV_PROCESS_OPTIONAL},
	};
	for (size_t i = 0; i < ELEMENTSOF(opts); i++) {
		lc_config *c = NULL;
		if (lc_config_from_spec(s, &opts[i], &c, &err) >= 0)
			c = lc_config_free(c);
	}

	Grpc__Spec *p = NULL;
	lc_strv dropped = {0};
	if (lc_spec_to_proto(s, &p, &dropped, &err) < 0)
		return 0;
	lc_spec *back = NULL;
	if (lc_spec_from_proto(p, &back, &err) < 0)
		abort(); /* everything the JSON reader accepted fits the proto reader's caps */
	/* Reading back and writing again must be stable: no field may drift on a second trip. */
	Grpc__Spec *p2 = NULL;
	lc_spec *back2 = NULL;
	if (lc_spec_to_proto(back, &p2, NULL, &err) < 0 || lc_spec_from_proto(p2, &back2, &err) < 0)
		abort();
	if (!lc_spec_equal(back, back2))
		abort();
	(void)lc_spec_free(back2);
	(void)lc_spec_proto_free(p2);
	(void)lc_spec_free(back);
	(void)lc_spec_proto_free(p);
	lc_strv_clear(&dropped);
	return 0;
}
