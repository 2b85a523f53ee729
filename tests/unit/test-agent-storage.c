/* The storage batches' refcounts and their list of batches in flight, driven directly as the agent's handlers
 * drive them (agent/storage-batch.h), with the helpers' work stood in for: a helper's mounts succeed when the
 * test commits the batch, and an unmount helper is done when the test frees its batch. The races these pin down
 * need a request to arrive while a helper runs; here that moment is simply a step of the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "agent/agent.h"
#include "agent/storage-batch.h"
#include "agent/watch.h"
#include "common/util.h"
#include "storage/watch.h"

#define K "/run/kata-containers/sandbox/storage/vol"

static agent A;
static stor_registry reg;
static storage_batch *list;
static int n_ready;

static int setup(void **state) {
	A = (agent){ .sysfs = "/sys" };
	reg = (stor_registry){ 0 };
	list = NULL;
	n_ready = 0;
	return ev_loop_new(&A.loop);
}

static int teardown(void **state) {
	assert_null(list); /* every batch left the list */
	stor_registry_clear(&reg);
	watch_free(&A); /* a committed watchable storage starts the agent's polling */
	A.loop = ev_loop_free(A.loop);
	return 0;
}

static void on_ready(storage_batch *b, void *userdata) {
	assert_ptr_equal(userdata, &n_ready);
	n_ready++;
}

/* Turns of the loop, where a batch that waited goes on. */
static void spin(void) {
	for (int i = 0; i < 3; i++)
		(void)ev_loop_iterate(A.loop, 10);
}

static Grpc__Storage eph(const char *mount_point) {
	Grpc__Storage s = GRPC__STORAGE__INIT;
	s.driver = "ephemeral";
	s.mount_point = (char *)mount_point;
	return s;
}

/* A request for mount points (ephemeral tmpfs each), on the list from its arrival as the handlers put it. */
static storage_batch *request(const char *container_id, const char *const *mount_points, size_t n) {
	Grpc__Storage s[8], *p[8];
	storage_batch *b = NULL;
	kc_error err = { 0 };
	assert_true(n <= ELEMENTSOF(s));
	for (size_t i = 0; i < n; i++) {
		s[i] = eph(mount_points[i]);
		p[i] = &s[i];
	}
	if (storage_batch_new(&A, &reg, &list, container_id, p, n, 8, &b, &err) < 0)
		fail_msg("%s", err.msg);
	storage_batch_join(b);
	storage_batch_drop_request(b); /* s goes with this frame, as the request goes with its call */
	return b;
}

/* The mount helper succeeded and the request is answered: the references are the registry's. */
static void mounted(storage_batch *b) {
	storage_batch_commit(b);
	storage_batch_free(b);
}

static unsigned refs(const char *key) {
	const stor_entry *e = stor_registry_find(&reg, key);
	return e ? e->refs : 0;
}

/* A container goes: its references back; the last ones are unmounted by a helper that has not finished yet. */
static storage_batch *remove_container(const char *const *keys, size_t n) {
	storage_batch *rel = NULL;
	assert_int_equal(storage_batch_new_release(&A, &reg, &list, (char *const *)keys, n, &rel), 0);
	if (rel)
		storage_batch_join(rel);
	return rel;
}

/* Issue: RemoveContainer's helper unmounts the last reference of K; a CreateContainer for K arrives meanwhile.
 * It must not mount before that unmount is done (the helper would detach the new mount), then mount once,
 * and the refcount must end at one. */
static void test_mount_waits_for_unmount(void **state) {
	const char *k[] = { K };
	mounted(request("c1", k, 1));
	assert_int_equal(refs(K), 1);

	storage_batch *rel = remove_container(k, 1);
	assert_non_null(rel);
	assert_null(stor_registry_find(&reg, K)); /* forgotten at once; the unmount is in flight */
	assert_true(storage_batch_any_mounted(rel));

	storage_batch *b = request("c2", k, 1);
	assert_true(b->to_mount[0]);
	assert_int_equal(storage_batch_wait_unmounts(b, on_ready, &n_ready), 1);
	assert_true(storage_batch_waiting(b));
	/* A third request for K meanwhile is refused rather than stacked: c2 is the one that mounts it. */
	const Grpc__Storage s3 = eph(K);
	const Grpc__Storage *p3[] = { &s3 };
	storage_batch *b3 = NULL;
	kc_error err = { 0 };
	assert_int_equal(storage_batch_new(&A, &reg, &list, "c3", (Grpc__Storage *const *)p3, 1, 8, &b3, &err),
			 -EBUSY);
	assert_non_null(strstr(err.msg, "storages[0].mount_point: " K " is being mounted by another request"));
	spin();
	assert_int_equal(n_ready, 0); /* still unmounting */

	storage_batch_free(rel); /* the unmount helper is done */
	assert_int_equal(n_ready, 0); /* not from inside the helper's completion: from the loop */
	spin();
	assert_int_equal(n_ready, 1);
	assert_false(storage_batch_waiting(b));
	assert_int_equal(storage_batch_wait_unmounts(b, on_ready, &n_ready), 0); /* nothing in the way now */
	mounted(b);
	assert_int_equal(refs(K), 1);
	assert_int_equal(reg.n, 1);
	spin();
	assert_int_equal(n_ready, 1);
}

/* An unmount is in the way of mount points below and above it, not beside it. */
static void test_nested_mount_points_wait(void **state) {
	const char *k[] = { K };
	mounted(request("c1", k, 1));
	storage_batch *rel = remove_container(k, 1);

	const char *below[] = { K "/sub" }, *above[] = { "/run/kata-containers/sandbox/storage" },
		   *beside[] = { K "2", "/run/kata-containers/sandbox/other" };
	storage_batch *b1 = request("c2", below, 1), *b2 = request("c3", above, 1), *b3 = request("c4", beside, 2);
	assert_int_equal(storage_batch_wait_unmounts(b1, on_ready, &n_ready), 1);
	assert_int_equal(storage_batch_wait_unmounts(b2, on_ready, &n_ready), 1);
	assert_int_equal(storage_batch_wait_unmounts(b3, on_ready, &n_ready), 0);
	storage_batch_free(rel);
	spin();
	assert_int_equal(n_ready, 2);
	storage_batch_free(b1);
	storage_batch_free(b2);
	storage_batch_free(b3);
}

/* A request that goes away while it waits is not woken, and what it held goes back. */
static void test_cancelled_while_waiting(void **state) {
	const char *k[] = { K }, *both[] = { K, "/run/kata-containers/sandbox/shm" }, *shm[] = { both[1] };
	mounted(request("c0", shm, 1));
	mounted(request("c1", k, 1));
	storage_batch *rel = remove_container(k, 1);
	storage_batch *b = request("c2", both, 2);
	assert_true(b->held[1]);
	assert_int_equal(refs(both[1]), 2);
	assert_int_equal(storage_batch_wait_unmounts(b, on_ready, &n_ready), 1);
	storage_batch_stop_waiting(b);
	storage_batch_release(b);
	assert_int_equal(refs(both[1]), 1);
	assert_false(storage_batch_any_mounted(b)); /* c0 still holds the shm: nothing to unmount */
	storage_batch_free(b);
	storage_batch_free(rel);
	spin();
	assert_int_equal(n_ready, 0);
}

/* A failed request gives back a reference it held that turned out to be the last (its holder went meanwhile):
 * that unmount is in flight until the failed request's undo is done, and a new request waits for it too. */
static void test_failed_request_releases_last_reference(void **state) {
	const char *k[] = { K };
	mounted(request("c1", k, 1));
	storage_batch *b = request("c2", k, 1);
	assert_true(b->held[0]);
	assert_int_equal(refs(K), 2);
	assert_null(remove_container(k, 1)); /* c1 goes; c2's reference keeps K mounted */
	assert_int_equal(refs(K), 1);
	storage_batch_release(b); /* c2 fails */
	assert_null(stor_registry_find(&reg, K));
	assert_true(storage_batch_any_mounted(b)); /* its undo unmounts K */

	storage_batch *c = request("c3", k, 1);
	assert_true(c->to_mount[0]);
	assert_int_equal(storage_batch_wait_unmounts(c, on_ready, &n_ready), 1);
	storage_batch_free(b); /* the undo is done */
	spin();
	assert_int_equal(n_ready, 1);
	mounted(c);
	assert_int_equal(refs(K), 1);
}

/* What RemoveContainer gives back: only the last references are unmounted, with their drivers; a shared
 * storage stays mounted with no reference. */
static void test_release_batch(void **state) {
	const char *two[] = { K, "/run/kata-containers/sandbox/shm" };
	Grpc__Storage s = eph("/run/kata-containers/shared/s");
	s.shared = true;
	Grpc__Storage *p[] = { &s };
	storage_batch *sb = NULL;
	kc_error err = { 0 };
	assert_int_equal(storage_batch_new(&A, &reg, &list, NULL, p, 1, 8, &sb, &err), 0);
	storage_batch_join(sb);
	storage_batch_drop_request(sb);
	mounted(sb);
	mounted(request("c1", two, 2));
	mounted(request("c2", two + 1, 1));
	const char *gone[] = { K, two[1], "/run/kata-containers/shared/s" };
	storage_batch *rel = remove_container(gone, 3);
	assert_non_null(rel);
	assert_int_equal(rel->n, 1);
	assert_string_equal(rel->keys[0], K);
	assert_string_equal(stor_driver_name(rel->drivers[0]), "ephemeral");
	assert_int_equal(refs(two[1]), 1);
	assert_non_null(stor_registry_find(&reg, "/run/kata-containers/shared/s"));
	storage_batch_free(rel);
	rel = remove_container(two + 1, 1); /* c2 goes: now the shm's last reference */
	assert_non_null(rel);
	assert_string_equal(rel->keys[0], two[1]);
	assert_null(stor_registry_find(&reg, two[1]));
	storage_batch_free(rel);
}

#define W STOR_ROOT "/shared/containers/watchable/"

/* A watchable-bind request, on the list; started: its mount helper was given the mounts. */
static storage_batch *watch_request(const char *container_id, const char *mount_point, bool started) {
	Grpc__Storage s = GRPC__STORAGE__INIT, *p[] = { &s };
	storage_batch *b = NULL;
	kc_error err = { 0 };
	s.driver = "watchable-bind";
	s.source = STOR_ROOT "/shared/containers/cm";
	s.mount_point = (char *)mount_point;
	if (storage_batch_new(&A, &reg, &list, container_id, p, 1, 8, &b, &err) < 0)
		fail_msg("%s", err.msg);
	storage_batch_join(b);
	if (started)
		storage_batch_drop_request(b);
	return b;
}

/* Issue: the tmpfs under the watchable storages was released by the unmount helper of the last one, which could
 * not see a watchable storage being mounted by another helper at the same moment. The agent decides now. */
static void test_last_watchable_releases_tmpfs(void **state) {
	const char *w1[] = { W "w1" };
	mounted(watch_request("c1", w1[0], true));
	storage_batch *rel = remove_container(w1, 1);
	assert_non_null(rel);
	assert_true(rel->release_tmpfs); /* nothing watchable left, nothing on its way */

	/* A watchable storage that comes meanwhile, at another mount point, still waits: the tmpfs it would mount
	 * in is being unmounted. Others do not. */
	storage_batch *b = watch_request("c2", W "w2", false), *other = request("c3", (const char *[]){ K }, 1);
	assert_int_equal(storage_batch_wait_unmounts(b, on_ready, &n_ready), 1);
	assert_int_equal(storage_batch_wait_unmounts(other, on_ready, &n_ready), 0);
	storage_batch_free(other);
	storage_batch_free(rel);
	spin();
	assert_int_equal(n_ready, 1);
	storage_batch_drop_request(b);
	mounted(b);
}

/* A watchable storage whose request arrived before the last other one went keeps the tmpfs; the decision passes
 * to it, so the tmpfs goes when it fails or, once mounted, when it is removed. */
static void test_watchable_mount_meanwhile_keeps_tmpfs(void **state) {
	const char *w1[] = { W "w1" }, *w2[] = { W "w2" };
	mounted(watch_request("c1", w1[0], true));
	storage_batch *b = watch_request("c2", w2[0], true); /* its helper is mounting */
	storage_batch *rel = remove_container(w1, 1);
	assert_false(rel->release_tmpfs);
	assert_int_equal(storage_batch_wait_unmounts(b, on_ready, &n_ready), 0); /* w1 is not in its way */
	storage_batch_free(rel);
	mounted(b);
	rel = remove_container(w2, 1);
	assert_true(rel->release_tmpfs);
	storage_batch_free(rel);

	/* Same, but the newcomer fails before its helper mounted anything (it waited for a device, say): the
	 * release it was left falls to its undo. */
	mounted(watch_request("c3", w1[0], true));
	b = watch_request("c4", w2[0], false);
	rel = remove_container(w1, 1);
	assert_false(rel->release_tmpfs);
	assert_true(b->tmpfs_owed);
	storage_batch_free(rel);
	assert_false(storage_batch_any_mounted(b));
	storage_batch_release(b);
	assert_true(b->release_tmpfs);
	assert_true(storage_batch_any_mounted(b)); /* so its undo runs */
	storage_batch_free(b);
}

/* Two watchable requests fail in turn: the first leaves the tmpfs to the second, which releases it. A request
 * refused in its handler never started a helper and leaves the decision alone. */
static void test_failed_watchable_requests(void **state) {
	storage_batch *a = watch_request("c1", W "w1", true), *b = watch_request("c2", W "w2", true);
	storage_batch_release(a);
	assert_false(a->release_tmpfs);
	storage_batch_release(b);
	assert_true(b->release_tmpfs);
	storage_batch_release(b); /* once: the job's free gives back what is left, which is nothing */
	storage_batch_free(a);
	storage_batch_free(b);

	storage_batch *c = watch_request("c3", W "w3", false);
	storage_batch_release(c);
	assert_false(c->release_tmpfs);
	assert_false(storage_batch_any_mounted(c));
	storage_batch_free(c);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mount_waits_for_unmount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_mount_points_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancelled_while_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_request_releases_last_reference, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_watchable_releases_tmpfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchable_mount_meanwhile_keeps_tmpfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_watchable_requests, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
