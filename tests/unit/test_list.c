/* SPDX-License-Identifier: MIT */
/* Unit tests for src/common/list.h: the one list idiom. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "list.h"

typedef struct Item Item;
struct Item {
        int v;
        LIST_FIELDS(Item, items);
};

typedef struct Owner {
        LIST_HEAD(Item, items);
} Owner;

static int sum_and_check_links(const Owner *o, unsigned *ret_n) {
        const Item *prev = NULL;
        unsigned n = 0;
        int sum = 0;

        LIST_FOREACH(items, i, o->items) {
                assert_ptr_equal(i->items_prev, prev);
                prev = i;
                sum += i->v;
                n++;
        }
        *ret_n = n;
        return sum;
}

static void test_list_prepend_remove(void **state) {
        Item a = { .v = 1 }, b = { .v = 2 }, c = { .v = 4 };
        Owner o = {};
        unsigned n;

        (void) state;
        LIST_INIT(items, &a);
        LIST_PREPEND(items, o.items, &a);
        LIST_PREPEND(items, o.items, &b);
        LIST_PREPEND(items, o.items, &c);
        assert_ptr_equal(o.items, &c);
        assert_int_equal(sum_and_check_links(&o, &n), 7);
        assert_int_equal(n, 3);

        LIST_REMOVE(items, o.items, &b);  /* middle */
        assert_null(b.items_next);
        assert_null(b.items_prev);
        assert_int_equal(sum_and_check_links(&o, &n), 5);
        assert_int_equal(n, 2);

        LIST_REMOVE(items, o.items, &c);  /* head */
        assert_ptr_equal(o.items, &a);
        assert_int_equal(sum_and_check_links(&o, &n), 1);

        LIST_REMOVE(items, o.items, &a);  /* last */
        assert_null(o.items);
        assert_int_equal(sum_and_check_links(&o, &n), 0);
        assert_int_equal(n, 0);
}

static void test_list_foreach_safe_frees(void **state) {
        Owner o = {};
        unsigned n;

        (void) state;
        for (int v = 0; v < 10; v++) {
                Item *i = calloc(1, sizeof *i);

                assert_non_null(i);
                i->v = v;
                LIST_PREPEND(items, o.items, i);
        }
        /* remove and free the odd ones while walking */
        LIST_FOREACH_SAFE(items, i, next, o.items)
                if (i->v % 2) {
                        LIST_REMOVE(items, o.items, i);
                        free(i);
                }
        assert_int_equal(sum_and_check_links(&o, &n), 0 + 2 + 4 + 6 + 8);
        assert_int_equal(n, 5);
        LIST_FOREACH_SAFE(items, i, next, o.items) {
                LIST_REMOVE(items, o.items, i);
                free(i);
        }
        assert_null(o.items);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_list_prepend_remove),
                cmocka_unit_test(test_list_foreach_safe_frees),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
