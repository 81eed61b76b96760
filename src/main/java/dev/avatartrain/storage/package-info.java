/** Reading and writing files on local disk, S3 (s3a) and HTTPS, local first; atomic writes. */
package dev.avatartrain.storage;
