/* SPDX-License-Identifier: MIT */
/*
 * The one list idiom of rocker: an intrusive doubly linked list, as
 * systemd's list.h. An item embeds `LIST_FIELDS(Type, name)` (name##_next,
 * name##_prev) and the owner holds `Type *head`. Removal and prepending are
 * O(1) and never allocate; iteration with LIST_FOREACH_SAFE may remove the
 * current item.
 *
 *     struct Child { LIST_FIELDS(struct Child, children); int pidfd; };
 *     struct Reaper { LIST_HEAD(struct Child, children); };
 *     LIST_PREPEND(children, r->children, c);
 *     LIST_FOREACH_SAFE(children, c, n, r->children) ...
 *     LIST_REMOVE(children, r->children, c);
 */
#ifndef ROCKER_LIST_H
#define ROCKER_LIST_H

#include <stddef.h>

#define LIST_HEAD(t, name) t *name
#define LIST_FIELDS(t, name) t *name##_next, *name##_prev

#define LIST_INIT(name, item) \
        do { (item)->name##_next = (item)->name##_prev = NULL; } while (0)

/* Adds item at the front of the list whose first item is head. */
#define LIST_PREPEND(name, head, item)                                \
        do {                                                          \
                __typeof__(*(head)) **_head_ = &(head), *_item_ = (item); \
                if ((_item_->name##_next = *_head_))                  \
                        _item_->name##_next->name##_prev = _item_;    \
                _item_->name##_prev = NULL;                           \
                *_head_ = _item_;                                     \
        } while (0)

/* Takes item (which must be in the list) out of it. */
#define LIST_REMOVE(name, head, item)                                 \
        do {                                                          \
                __typeof__(*(head)) **_head_ = &(head), *_item_ = (item); \
                if (_item_->name##_next)                              \
                        _item_->name##_next->name##_prev = _item_->name##_prev; \
                if (_item_->name##_prev)                              \
                        _item_->name##_prev->name##_next = _item_->name##_next; \
                else                                                  \
                        *_head_ = _item_->name##_next;                \
                _item_->name##_next = _item_->name##_prev = NULL;     \
        } while (0)

#define LIST_FOREACH(name, i, head) \
        for (__typeof__(*(head)) *i = (head); i; i = i->name##_next)

/* As LIST_FOREACH; the body may LIST_REMOVE (and free) i. */
#define LIST_FOREACH_SAFE(name, i, n, head) \
        for (__typeof__(*(head)) *i = (head), *n = i ? i->name##_next : NULL; i; \
             i = n, n = i ? i->name##_next : NULL)

#endif
