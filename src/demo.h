/*
 * The embedded demonstration (spofd --demo DIR): services on loopback
 * whose backends the quick start starts and kills, and hook scripts that
 * say what they would do.  Everything lives in DIR.
 */
#ifndef SPOFD_DEMO_H
#define SPOFD_DEMO_H

#include <stddef.h>

/*
 * Create DIR/hooks with the demo's hook scripts and return the
 * configuration text (control socket, state and hooks in DIR).  NULL with
 * a message in ERR on failure.
 */
char *demo_prepare(const char *dir, char *err, size_t errlen);

#endif
