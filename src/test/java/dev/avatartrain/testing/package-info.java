/** Test support shared by the suites: the PyTorch reference interpreter and the originals beside the checkout. */
package dev.avatartrain.testing;
