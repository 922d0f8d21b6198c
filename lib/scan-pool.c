/* scan-pool.c - scanning the files of a walk with several threads
 *
 * The walk (the calling thread) opens each file as it would itself and
 * hands it to the pool with the next sequence number; its own events
 * (skipped paths, paths it cannot open) get a number too.  A few
 * threads take the files in that order and scan them.  Everything a
 * file yields (hits, its end) is kept in its slot until all the slots
 * before it have gone out, then handed to the caller's callbacks: the
 * callbacks see the same events, in the same order, as with one thread,
 * and are called one at a time (from any of the threads).
 *
 * Memory stays bounded: the walk waits while MAX_AHEAD slots per thread
 * are not out yet, and a thread that would make the slots hold more
 * than POOL_BUFFER bytes of events waits until its turn comes, then
 * hands them on as they come.  The thread of the slot whose turn it is
 * never waits, and it is always running: the files are taken in order.
 * Progress events of a file whose turn has not come are dropped.  */
#include <config.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "pan-int.h"
#include "scan-int.h"

/* Slots not out yet before the walk waits, per thread.  */
#define MAX_AHEAD 16

/* Bytes of events all slots keep before a thread waits for its turn.  */
#define POOL_BUFFER (4 * 1024 * 1024)

/* An event kept until its slot's turn.  */
struct record
{
  struct record *next;
  int is_hit;
  struct pan_scan_hit hit;
  struct pan_scan_file file;
  size_t size;
  char text[]; /* The strings of HIT or FILE.  */
};

/* The events of one path, in the walk's order.  */
struct slot
{
  unsigned long long seq;
  struct record *first, **tail;
  int done;
  struct slot *next; /* Sorted by SEQ.  */
};

/* A file handed to the pool.  */
struct job
{
  struct slot *slot;
  int fd;
  char *path;
  unsigned int depth;
  int in_maildir;
  struct job *next;
};

struct worker
{
  struct scan_pool *pool;
  struct pan_scan_options o; /* Its callbacks: keep or hand on.  */
  struct scan_walk w;
  struct slot *slot; /* Of the file it scans.  */
  pthread_t thread;
  int started;
};

struct scan_pool
{
  pthread_mutex_t lock;
  pthread_cond_t changed;
  const struct pan_scan_options *o; /* The caller's.  */
  struct pan_scan_options walker;   /* The walk's own events.  */
  struct job *queue, **queue_tail;
  struct slot *slots;          /* Not out yet.  */
  unsigned long long next_seq; /* The next path's number.  */
  unsigned long long turn;     /* The slot whose events go out.  */
  size_t bytes;                /* Kept in the slots.  */
  scan_fd_fn scan_fd;          /* Scans one file.  */
  unsigned int nworkers;
  struct worker *workers;
  char *bufs;      /* A read buffer for each.  */
  int closing;     /* No more files.  */
  gpg_error_t err; /* Stops everything.  */
};


/*
 * Records.
 */

/* Copy the string S into R's text at *R_AT and return the copy.  */
static const char *
put_text (struct record *r, size_t *r_at, const char *s)
{
  char *copy;

  if (!s)
    return NULL;
  copy = r->text + *r_at;
  strcpy (copy, s);
  *r_at += strlen (s) + 1;
  return copy;
}

static size_t
text_size (const char *const *s, size_t n)
{
  size_t i, size = 0;

  for (i = 0; i < n; i++)
    size += s[i] ? strlen (s[i]) + 1 : 0;
  return size;
}

/* Return a record holding a copy of HIT, or NULL.  */
static struct record *
copy_hit (const struct pan_scan_hit *hit)
{
  const char *s[] = { hit->path,     hit->content_type, hit->header,
                      hit->brand,    hit->masked,       hit->hash,
                      hit->encoding, hit->context,      hit->allowed };
  size_t size = text_size (s, sizeof s / sizeof *s), at = 0;
  struct record *r = calloc (1, sizeof *r + size);

  if (!r)
    return NULL;
  r->is_hit = 1;
  r->size = sizeof *r + size;
  r->hit = *hit;
  r->hit.path = put_text (r, &at, hit->path);
  r->hit.content_type = put_text (r, &at, hit->content_type);
  r->hit.header = put_text (r, &at, hit->header);
  r->hit.brand = put_text (r, &at, hit->brand);
  r->hit.masked = put_text (r, &at, hit->masked);
  r->hit.hash = put_text (r, &at, hit->hash);
  r->hit.encoding = put_text (r, &at, hit->encoding);
  r->hit.context = put_text (r, &at, hit->context);
  r->hit.allowed = put_text (r, &at, hit->allowed);
  return r;
}

/* Return a record holding a copy of FILE, or NULL.  */
static struct record *
copy_file (const struct pan_scan_file *file)
{
  const char *s[] = { file->path, file->reason };
  size_t size = text_size (s, 2), at = 0;
  struct record *r = calloc (1, sizeof *r + size);

  if (!r)
    return NULL;
  r->size = sizeof *r + size;
  r->file = *file;
  r->file.path = put_text (r, &at, file->path);
  r->file.reason = put_text (r, &at, file->reason);
  return r;
}

static void
free_record (struct record *r)
{
  pani_wipe_free (r, r->size);
}

/* Hand R to the caller's callbacks, unless the scan stopped.  Called
 * with the lock held.  */
static void
deliver (struct scan_pool *pool, const struct record *r)
{
  const struct pan_scan_options *o = pool->o;
  gpg_error_t rc = 0;

  if (pool->err)
    return;
  if (r->is_hit && o->hit_cb)
    rc = o->hit_cb (o->opaque, &r->hit);
  else if (!r->is_hit && o->file_cb)
    rc = o->file_cb (o->opaque, &r->file);
  if (rc)
    pool->err = rc;
}


/*
 * Slots.
 */

/* Hand on and free the records kept in SLOT.  */
static void
flush_slot (struct scan_pool *pool, struct slot *slot)
{
  struct record *r;

  while ((r = slot->first))
    {
      slot->first = r->next;
      pool->bytes -= r->size;
      deliver (pool, r);
      free_record (r);
    }
  slot->tail = &slot->first;
}

/* Hand on the slots whose turn has come and that are done.  */
static void
advance (struct scan_pool *pool)
{
  struct slot *slot;

  while ((slot = pool->slots) && slot->seq == pool->turn && slot->done)
    {
      flush_slot (pool, slot);
      pool->slots = slot->next;
      free (slot);
      pool->turn++;
    }
  pthread_cond_broadcast (&pool->changed);
}

/* Return a new slot with the next number, kept in order.  */
static struct slot *
new_slot (struct scan_pool *pool)
{
  struct slot *slot = calloc (1, sizeof *slot), **p;

  if (!slot)
    return NULL;
  slot->seq = pool->next_seq++;
  slot->tail = &slot->first;
  for (p = &pool->slots; *p; p = &(*p)->next)
    ;
  *p = slot;
  return slot;
}

/* Keep R in SLOT, or hand it on if it is SLOT's turn; R is NULL if it
 * could not be made.  Called with the lock held.  */
static void
keep (struct scan_pool *pool, struct slot *slot, struct record *r)
{
  if (!r)
    {
      if (!pool->err)
        pool->err = gpg_error (GPG_ERR_ENOMEM);
      return;
    }
  if (pool->bytes + r->size > POOL_BUFFER)
    while (slot->seq != pool->turn && !pool->err)
      pthread_cond_wait (&pool->changed, &pool->lock);
  if (slot->seq == pool->turn)
    {
      flush_slot (pool, slot);
      deliver (pool, r);
      free_record (r);
      return;
    }
  r->next = NULL;
  *slot->tail = r;
  slot->tail = &r->next;
  pool->bytes += r->size;
}


/*
 * The callbacks of the threads and of the walk.
 */

static gpg_error_t
worker_hit (void *opaque, const struct pan_scan_hit *hit)
{
  struct worker *wk = opaque;
  struct scan_pool *pool = wk->pool;
  gpg_error_t err;

  pthread_mutex_lock (&pool->lock);
  keep (pool, wk->slot, copy_hit (hit));
  err = pool->err;
  pthread_mutex_unlock (&pool->lock);
  return err;
}

static gpg_error_t
worker_file (void *opaque, const struct pan_scan_file *file)
{
  struct worker *wk = opaque;
  struct scan_pool *pool = wk->pool;
  gpg_error_t err;

  pthread_mutex_lock (&pool->lock);
  if (file->event != PAN_SCAN_PROGRESS)
    keep (pool, wk->slot, copy_file (file));
  else if (wk->slot->seq == pool->turn)
    {
      flush_slot (pool, wk->slot);
      if (pool->o->file_cb && !pool->err)
        pool->err = pool->o->file_cb (pool->o->opaque, file);
    }
  err = pool->err;
  pthread_mutex_unlock (&pool->lock);
  return err;
}

/* An event of the walk itself: a slot of its own, done at once.  */
static gpg_error_t
walker_file (void *opaque, const struct pan_scan_file *file)
{
  struct scan_pool *pool = opaque;
  struct slot *slot;
  gpg_error_t err;

  pthread_mutex_lock (&pool->lock);
  if (!(slot = new_slot (pool)))
    pool->err = gpg_error (GPG_ERR_ENOMEM);
  else
    {
      keep (pool, slot, copy_file (file));
      slot->done = 1;
      advance (pool);
    }
  err = pool->err;
  pthread_mutex_unlock (&pool->lock);
  return err;
}


/*
 * The threads.
 */

static void
free_job (struct job *job)
{
  if (job->fd >= 0)
    close (job->fd);
  free (job->path);
  free (job);
}

/* Take the next file, or NULL when there is none and will be none.  */
static struct job *
take_job (struct scan_pool *pool)
{
  struct job *job;

  pthread_mutex_lock (&pool->lock);
  while (!pool->queue && !pool->closing)
    pthread_cond_wait (&pool->changed, &pool->lock);
  if ((job = pool->queue) && !(pool->queue = job->next))
    pool->queue_tail = &pool->queue;
  pthread_mutex_unlock (&pool->lock);
  return job;
}

/* Scan the file of JOB with WK, then let its slot go out.  */
static void
run_job (struct worker *wk, struct job *job)
{
  struct scan_pool *pool = wk->pool;
  struct scan_where at;
  int stopped;

  memset (&at, 0, sizeof at);
  at.path = job->path;
  at.depth = job->depth;
  at.in_maildir = job->in_maildir;
  wk->slot = job->slot;
  wk->w.err = 0;
  pthread_mutex_lock (&pool->lock);
  stopped = pool->err != 0;
  pthread_mutex_unlock (&pool->lock);
  if (!stopped)
    pool->scan_fd (&wk->w, &at, job->fd);
  pani_wipe (wk->w.buf, wk->w.used);
  wk->w.used = 0;
  pthread_mutex_lock (&pool->lock);
  if (wk->w.err && !pool->err)
    pool->err = wk->w.err;
  job->slot->done = 1;
  advance (pool);
  pthread_mutex_unlock (&pool->lock);
}

static void *
worker_main (void *opaque)
{
  struct worker *wk = opaque;
  struct job *job;

  while ((job = take_job (wk->pool)))
    {
      run_job (wk, job);
      free_job (job);
    }
  return NULL;
}


/*
 * The pool.
 */

/* Set up worker I of POOL: its options, scanner and buffer.  */
static gpg_error_t
init_worker (struct scan_pool *pool, unsigned int i, pan_scanner_t scanner)
{
  struct worker *wk = pool->workers + i;
  gpg_error_t err = 0;

  wk->pool = pool;
  wk->o = *pool->o;
  wk->o.hit_cb = worker_hit;
  wk->o.file_cb = worker_file;
  wk->o.opaque = wk;
  wk->w.o = &wk->o;
  wk->w.buf = pool->bufs + (size_t)i * PAN_SCAN_CHUNK;
  if (scanner && (err = pani_scanner_clone (scanner, &wk->w.scanner)))
    return err;
  if (pthread_create (&wk->thread, NULL, worker_main, wk))
    return gpg_error (GPG_ERR_EAGAIN);
  wk->started = 1;
  return 0;
}

gpg_error_t
pani_scan_pool_new (pan_scanner_t scanner, const struct pan_scan_options *o,
                    unsigned int jobs, scan_fd_fn scan_fd,
                    struct scan_pool **r_pool,
                    const struct pan_scan_options **r_walker)
{
  struct scan_pool *pool = calloc (1, sizeof *pool);
  gpg_error_t err = 0;
  unsigned int i;

  *r_pool = NULL;
  if (!pool || !(pool->workers = calloc (jobs, sizeof *pool->workers))
      || !(pool->bufs = malloc ((size_t)jobs * PAN_SCAN_CHUNK)))
    {
      err = gpg_error_from_syserror ();
      if (pool)
        free (pool->workers);
      free (pool);
      return err;
    }
  pthread_mutex_init (&pool->lock, NULL);
  pthread_cond_init (&pool->changed, NULL);
  pool->o = o;
  pool->scan_fd = scan_fd;
  pool->walker = *o;
  pool->walker.file_cb = walker_file;
  pool->walker.opaque = pool;
  pool->queue_tail = &pool->queue;
  pool->nworkers = jobs;
  for (i = 0; i < jobs && !err; i++)
    err = init_worker (pool, i, scanner);
  if (err)
    {
      pani_scan_pool_finish (pool);
      pani_scan_pool_release (pool);
      return err;
    }
  *r_pool = pool;
  *r_walker = &pool->walker;
  return 0;
}

/* Return a job for the file open at FD, found at AT, or NULL.  */
static struct job *
new_job (const struct scan_where *at, int fd)
{
  struct job *job = calloc (1, sizeof *job);

  if (!job)
    return NULL;
  job->fd = fd;
  job->depth = at->depth;
  job->in_maildir = at->in_maildir;
  if (!(job->path = pani_strdup (at->path)))
    {
      free (job);
      return NULL;
    }
  return job;
}

gpg_error_t
pani_scan_pool_submit (struct scan_pool *pool, const struct scan_where *at,
                       int fd)
{
  struct job *job = new_job (at, fd);
  gpg_error_t err;
  int queued = 0;

  pthread_mutex_lock (&pool->lock);
  while (job && !pool->err
         && pool->next_seq - pool->turn >= MAX_AHEAD * pool->nworkers)
    pthread_cond_wait (&pool->changed, &pool->lock);
  if (job && !pool->err && (job->slot = new_slot (pool)))
    {
      *pool->queue_tail = job;
      pool->queue_tail = &job->next;
      pthread_cond_broadcast (&pool->changed);
      queued = 1;
    }
  else if (!pool->err)
    pool->err = gpg_error (GPG_ERR_ENOMEM);
  err = pool->err;
  pthread_mutex_unlock (&pool->lock);
  if (queued)
    return err;
  if (job)
    free_job (job);
  else
    close (fd);
  return err;
}

gpg_error_t
pani_scan_pool_finish (struct scan_pool *pool)
{
  unsigned int i;
  gpg_error_t err;

  pthread_mutex_lock (&pool->lock);
  pool->closing = 1;
  pthread_cond_broadcast (&pool->changed);
  pthread_mutex_unlock (&pool->lock);
  for (i = 0; i < pool->nworkers; i++)
    if (pool->workers[i].started)
      {
        pthread_join (pool->workers[i].thread, NULL);
        pool->workers[i].started = 0;
      }
  pthread_mutex_lock (&pool->lock);
  advance (pool);
  err = pool->err;
  pthread_mutex_unlock (&pool->lock);
  return err;
}

void
pani_scan_pool_release (struct scan_pool *pool)
{
  struct slot *slot;
  unsigned int i;

  if (!pool)
    return;
  while ((slot = pool->slots))
    {
      pool->err = pool->err ? pool->err : gpg_error (GPG_ERR_CANCELED);
      flush_slot (pool, slot);
      pool->slots = slot->next;
      free (slot);
    }
  for (i = 0; i < pool->nworkers; i++)
    pan_scanner_release (pool->workers[i].w.scanner);
  pani_wipe_free (pool->bufs, (size_t)pool->nworkers * PAN_SCAN_CHUNK);
  free (pool->workers);
  pthread_cond_destroy (&pool->changed);
  pthread_mutex_destroy (&pool->lock);
  free (pool);
}
