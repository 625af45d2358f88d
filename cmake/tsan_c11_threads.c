/* STRATA_TSAN builds only. librdkafka starts its threads with C11 thrd_create and locks with
 * mtx_lock/cnd_wait; glibc >= 2.34 implements those by calling its internal pthread functions,
 * which GCC 12's (and clang 14's) libtsan does not intercept: such a thread is unknown to TSan
 * and its first malloc crashes in TSan's allocator, and its locks would order nothing. These
 * definitions interpose glibc's (the library is linked ahead of libc) and forward to the
 * pthread functions TSan intercepts. glibc's mtx_t/cnd_t/thrd_t are pthread's in size and
 * layout. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

struct tsan_c11_start {
  thrd_start_t fn;
  void* arg;
};

static void* tsan_c11_trampoline(void* p) {
  struct tsan_c11_start s = *(struct tsan_c11_start*)p;
  free(p);
  return (void*)(intptr_t)s.fn(s.arg);
}

static int tsan_c11_status(int rc) {
  switch (rc) {
    case 0: return thrd_success;
    case ENOMEM: return thrd_nomem;
    case EBUSY: return thrd_busy;
    case ETIMEDOUT: return thrd_timedout;
    default: return thrd_error;
  }
}

int thrd_create(thrd_t* thr, thrd_start_t fn, void* arg) {
  struct tsan_c11_start* s = malloc(sizeof *s);
  if (!s) return thrd_nomem;
  s->fn = fn;
  s->arg = arg;
  int rc = pthread_create((pthread_t*)thr, NULL, tsan_c11_trampoline, s);
  if (rc != 0) free(s);
  return tsan_c11_status(rc);
}

int thrd_join(thrd_t thr, int* res) {
  void* r = NULL;
  int rc = pthread_join((pthread_t)thr, &r);
  if (rc == 0 && res) *res = (int)(intptr_t)r;
  return tsan_c11_status(rc);
}

int thrd_detach(thrd_t thr) { return tsan_c11_status(pthread_detach((pthread_t)thr)); }

void thrd_exit(int res) { pthread_exit((void*)(intptr_t)res); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  if (type & mtx_recursive) pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  int rc = pthread_mutex_init((pthread_mutex_t*)m, &a);
  pthread_mutexattr_destroy(&a);
  return tsan_c11_status(rc);
}

int mtx_lock(mtx_t* m) { return tsan_c11_status(pthread_mutex_lock((pthread_mutex_t*)m)); }
int mtx_trylock(mtx_t* m) { return tsan_c11_status(pthread_mutex_trylock((pthread_mutex_t*)m)); }
int mtx_timedlock(mtx_t* restrict m, const struct timespec* restrict ts) {
  return tsan_c11_status(pthread_mutex_timedlock((pthread_mutex_t*)m, ts));
}
int mtx_unlock(mtx_t* m) { return tsan_c11_status(pthread_mutex_unlock((pthread_mutex_t*)m)); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy((pthread_mutex_t*)m); }

int cnd_init(cnd_t* c) { return tsan_c11_status(pthread_cond_init((pthread_cond_t*)c, NULL)); }
int cnd_signal(cnd_t* c) { return tsan_c11_status(pthread_cond_signal((pthread_cond_t*)c)); }
int cnd_broadcast(cnd_t* c) { return tsan_c11_status(pthread_cond_broadcast((pthread_cond_t*)c)); }
int cnd_wait(cnd_t* c, mtx_t* m) {
  return tsan_c11_status(pthread_cond_wait((pthread_cond_t*)c, (pthread_mutex_t*)m));
}
int cnd_timedwait(cnd_t* restrict c, mtx_t* restrict m, const struct timespec* restrict ts) {
  return tsan_c11_status(pthread_cond_timedwait((pthread_cond_t*)c, (pthread_mutex_t*)m, ts));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy((pthread_cond_t*)c); }
