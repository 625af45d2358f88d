// LeakSanitizer's defaults for redis_l2_test (read only in a sanitized build; unused otherwise).
//
// use_tls=0: under `make test-sanitize`, GCC 12's LeakSanitizer (Debian bookworm) crashed in its
// exit-time leak check ("Tracer caught signal 11") in five of this binary's tests, after every
// assertion had passed: the main thread's dynamic-TLS record for redis_l2.so (its 16-byte
// thread_local detail::constructing from sdk.hpp) holds a garbage range ("DTLS 5 at 0x31b-...")
// that the checker then reads. It is the runtime's own bookkeeping (an LD_PRELOADed no-op dlclose
// changes nothing; the other tests of this binary record no dynamic TLS at all). Without TLS
// scanning the leak check still runs over every heap block, stack and global; a block reachable
// only from a thread_local would now be reported as a leak, so this can add reports, never hide
// one.
extern "C" const char* __lsan_default_options() { return "use_tls=0"; }
