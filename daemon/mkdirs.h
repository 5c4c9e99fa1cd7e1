/*
 * mkdirs.h - mkdir -p: a directory and every missing parent (0755), for
 * the state directory (daemon/live), a correlator's history (daemon/chist)
 * and the history files' directory when the disk refused it at start
 * (drivers/file).
 */
#ifndef TOCSIN_MKDIRS_H
#define TOCSIN_MKDIRS_H

/* 0 (made, or there already), or -errno (-ENAMETOOLONG: empty or longer
 * than PATH_MAX). */
int	 mkdirs(const char *path);

#endif
