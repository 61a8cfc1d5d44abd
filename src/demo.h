/*
 * The embedded demonstration configuration (spofd --demo): services on
 * loopback whose backends the quick start starts and kills.
 */
#ifndef SPOFD_DEMO_H
#define SPOFD_DEMO_H

/* The configuration text; CONTROL_SOCKET and STATE_DIR are filled in. */
char *demo_config_text(const char *control_socket, const char *state_dir);

#endif
