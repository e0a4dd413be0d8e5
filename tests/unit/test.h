/* The unit-test harness: table-driven tests print "ok"/"FAIL" lines and the
 * program exits non-zero when any check failed.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_STR(got, want); CHECK_INT(got, want); }
 *   int main(void) { RUN(name); return test_done(); }
 */
#ifndef POSTHORN_TEST_H
#define POSTHORN_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;
static const char *test_current = "";

#define TEST(name) static void test_##name(void)
#define RUN(name)                                 \
	do {                                      \
		test_current = #name;             \
		int before_ = test_failures;      \
		test_##name();                    \
		if (test_failures == before_)     \
			printf("ok %s\n", #name); \
	} while (0)

#define CHECK(cond)                                                                               \
	do {                                                                                      \
		test_checks++;                                                                    \
		if (!(cond)) {                                                                    \
			test_failures++;                                                          \
			printf("FAIL %s: %s:%d: %s\n", test_current, __FILE__, __LINE__, #cond); \
		}                                                                                 \
	} while (0)

#define CHECK_INT(got, want)                                                                      \
	do {                                                                                      \
		long long g_ = (long long)(got), w_ = (long long)(want);                          \
		test_checks++;                                                                    \
		if (g_ != w_) {                                                                   \
			test_failures++;                                                          \
			printf("FAIL %s: %s:%d: %s: got %lld, want %lld\n", test_current, __FILE__, \
			       __LINE__, #got, g_, w_);                                           \
		}                                                                                 \
	} while (0)

#define CHECK_STR(got, want)                                                                      \
	do {                                                                                      \
		const char *g_ = (got), *w_ = (want);                                             \
		test_checks++;                                                                    \
		if ((g_ == NULL) != (w_ == NULL) || (g_ && strcmp(g_, w_) != 0)) {                \
			test_failures++;                                                          \
			printf("FAIL %s: %s:%d: %s: got \"%s\", want \"%s\"\n", test_current,     \
			       __FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
		}                                                                                 \
	} while (0)

/* Compares a (ptr, len) view with a C string. */
#define CHECK_MEM(ptr, len, want)                                                                 \
	do {                                                                                      \
		const char *w_ = (want);                                                          \
		size_t l_ = (len);                                                                \
		test_checks++;                                                                    \
		if (l_ != strlen(w_) || memcmp((ptr), w_, l_) != 0) {                             \
			test_failures++;                                                          \
			printf("FAIL %s: %s:%d: %s: got \"%.*s\", want \"%s\"\n", test_current,   \
			       __FILE__, __LINE__, #ptr, (int)l_, (const char *)(ptr), w_);       \
		}                                                                                 \
	} while (0)

static inline int test_done(void)
{
	printf("%d checks, %d failed\n", test_checks, test_failures);
	return test_failures ? 1 : 0;
}

#endif
