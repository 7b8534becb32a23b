@_exported import BumpKernels
