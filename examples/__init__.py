"""funcgrad's examples: each classic autograd case written three ways (see README.md)."""
