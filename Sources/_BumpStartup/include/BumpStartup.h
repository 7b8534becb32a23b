#ifndef BUMP_STARTUP_H
#define BUMP_STARTUP_H

/// Whether the startup guard ran before the libraries' initializers (1) or not (0): the
/// `bump` executable links this module only for that guard (see startup.c).
int bump_startup_guard_armed(void);

#endif
