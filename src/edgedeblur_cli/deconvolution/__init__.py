"""The kernel path: blur kernels, their blind estimation, deconvolution with a learned prior, and the route."""
