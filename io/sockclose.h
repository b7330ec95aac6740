/* SPDX-License-Identifier: MIT */
/*
 * sockclose.h: closing AF_PACKET sockets without making the caller wait for the kernel.
 *
 * The last close of a packet socket blocks for an RCU grace period: packet_release() calls
 * synchronize_net() so that no CPU is still delivering into the socket, 10-30 ms on a quiet
 * two-CPU machine (as long as the whole /24 sweep it ends). A process is not gone until its
 * files are released, so a one-shot `lnmt scan` would spend that between its last result and
 * its exit, and lnmtd before it answers. sockclose_deferred() hands the last reference of each
 * socket to something that can wait in our stead:
 *
 *  - an io_uring of its own: the sockets are registered in it as fixed files, closed, and the
 *    ring is torn down; the kernel finishes the tear-down on its workqueue, which drops the
 *    fixed files and so releases the sockets there (microseconds for the caller);
 *  - where io_uring is unavailable (seccomp, kernel.io_uring_disabled): a short-lived process
 *    (double fork, so it is adopted by init and never left as our zombie) that closes every
 *    other descriptor at once, waits until the caller has dropped its own references, then
 *    closes the sockets and exits (a few hundred microseconds of fork for the caller);
 *  - if both fail, a plain close(), which waits.
 *
 * Either way the descriptors are invalid for the caller when the call returns. Meanwhile the
 * sockets still exist for some milliseconds and may still queue frames their filters accept;
 * nobody reads them, and the kernel frees all of it with the socket.
 *
 * Safe from any thread; sockets of any kind work (other kinds gain nothing).
 */
#ifndef LNMT_SOCKCLOSE_H
#define LNMT_SOCKCLOSE_H

#define SOCKCLOSE_MAX 32 /* descriptors per call */

enum sockclose_how { SOCKCLOSE_URING, SOCKCLOSE_CHILD, SOCKCLOSE_WAITED };

/*
 * Closes fds[0..n-1] (n <= SOCKCLOSE_MAX; negative entries are skipped) and returns how: the
 * first of the ways above that worked. Never fails: at worst the descriptors were closed by
 * close() and the call waited.
 */
enum sockclose_how sockclose_deferred(const int *fds, unsigned n);

/*
 * The same through the holder process only, for sockets closed often: io_uring's tear-down hands
 * every socket to one kernel worker that releases them one after another, a grace period each
 * (~85 a second here), so back-to-back small sweeps would pile up sockets still hooked into the
 * interface; holders release side by side. Costs a double fork (~0.3-0.5 ms).
 */
enum sockclose_how sockclose_deferred_child(const int *fds, unsigned n);

#endif
