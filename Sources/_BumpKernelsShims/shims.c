// Intentionally empty: this target only carries BumpKernelsShims.h.
