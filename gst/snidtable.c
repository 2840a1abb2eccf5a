/* snidtable.c - values kept per tracker id (see snidtable.h). */
#include "snidtable.h"

#include <stdlib.h>

typedef struct
{
  gpointer value;
  guint64 seen;                 /* last frame the id was seen on */
} Entry;

struct _SnIdTable
{
  GHashTable *entries;          /* id (GINT_TO_POINTER) -> Entry */
  GDestroyNotify free_value;
};

static void
entry_free (gpointer data, gpointer table)
{
  Entry *e = data;
  SnIdTable *t = table;

  if (t->free_value != NULL && e->value != NULL)
    t->free_value (e->value);
  g_free (e);
}

SnIdTable *
sn_id_table_new (GDestroyNotify free_value)
{
  SnIdTable *t = g_new0 (SnIdTable, 1);

  t->entries = g_hash_table_new (NULL, NULL);
  t->free_value = free_value;
  return t;
}

void
sn_id_table_clear (SnIdTable * t)
{
  GHashTableIter it;
  gpointer key, value;

  g_hash_table_iter_init (&it, t->entries);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    entry_free (value, t);
    g_hash_table_iter_remove (&it);
  }
}

void
sn_id_table_free (SnIdTable * t)
{
  if (t == NULL)
    return;
  sn_id_table_clear (t);
  g_hash_table_destroy (t->entries);
  g_free (t);
}

guint
sn_id_table_size (const SnIdTable * t)
{
  return g_hash_table_size (t->entries);
}

gpointer
sn_id_table_get (SnIdTable * t, gint id, guint64 frame)
{
  Entry *e = g_hash_table_lookup (t->entries, GINT_TO_POINTER (id));

  if (e == NULL)
    return NULL;
  e->seen = frame;
  return e->value;
}

void
sn_id_table_set (SnIdTable * t, gint id, gpointer value, guint64 frame)
{
  Entry *e = g_hash_table_lookup (t->entries, GINT_TO_POINTER (id));

  if (e == NULL) {
    e = g_new0 (Entry, 1);
    g_hash_table_insert (t->entries, GINT_TO_POINTER (id), e);
  } else if (t->free_value != NULL && e->value != NULL && e->value != value) {
    t->free_value (e->value);
  }
  e->value = value;
  e->seen = frame;
}

static gint
by_seen (const void *a, const void *b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

void
sn_id_table_forget (SnIdTable * t, guint64 frame, guint64 max_age,
    guint max_entries)
{
  GHashTableIter it;
  gpointer key, value;
  guint n;

  g_hash_table_iter_init (&it, t->entries);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (frame - ((Entry *) value)->seen > max_age) {
      entry_free (value, t);
      g_hash_table_iter_remove (&it);
    }
  if ((n = g_hash_table_size (t->entries)) > max_entries) {
    /* the (n - max)-th oldest "seen" is the cut: drop that many at or
     * below it */
    guint64 *seen = g_new (guint64, n), cut;
    guint i = 0, drop = n - max_entries;

    g_hash_table_iter_init (&it, t->entries);
    while (g_hash_table_iter_next (&it, &key, &value))
      seen[i++] = ((Entry *) value)->seen;
    qsort (seen, n, sizeof (guint64), by_seen);
    cut = seen[drop - 1];
    g_hash_table_iter_init (&it, t->entries);
    while (drop > 0 && g_hash_table_iter_next (&it, &key, &value))
      if (((Entry *) value)->seen <= cut) {
        entry_free (value, t);
        g_hash_table_iter_remove (&it);
        drop--;
      }
    g_free (seen);
  }
}
