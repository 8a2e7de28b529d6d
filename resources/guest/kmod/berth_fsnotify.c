// SPDX-License-Identifier: GPL-2.0
/*
 * berth-fsnotify: file events for Berth's 9p shares (docs/mount-events.md).
 *
 * A 9p client never learns about changes made on the host, so watchers in the guest (and in
 * containers bind-mounting a share) hear nothing of a host edit. The host watches the shared folder
 * and sends coalesced changes; berth-fsnotify (the guest tool) writes one command per write() to
 * /dev/berth-fsnotify:
 *
 *     W <absolute guest path>                       start seeing the guest's own events on that share
 *     <mask-hex> <cookie> <absolute guest path>     a host change: raise it for the guest's watchers
 *
 * mask uses the inotify bit values, which equal the kernel's FS_* bits (IN_MODIFY 0x2, IN_ATTRIB
 * 0x4, IN_CLOSE_WRITE 0x8, IN_MOVED_FROM 0x40, IN_MOVED_TO 0x80, IN_CREATE 0x100, IN_DELETE 0x200,
 * IN_ISDIR 0x40000000); cookie pairs MOVED_FROM with MOVED_TO. A write returns its length when the
 * event was raised, -EEXIST when it was the echo of the guest's own change (below), -ENOENT when
 * the folder is gone, -EXDEV when the path is not on a 9p share, -EINVAL for a bad command.
 *
 * Two things the 9p client gets wrong in its uncached modes (cache=none, cache=mmap) shape this:
 *
 * 1. Every lookup of a path whose dentry was dropped makes a NEW inode (v9fs_get_new_inode_from_fid;
 *    dentries are dropped as soon as unused). inotify marks the inode it was given, so the inode a
 *    watcher holds is usually not the one a later lookup — ours, or a guest process's — returns.
 *    Both carry the same i_ino (the qid path) and the marked one stays hashed while the mark pins
 *    it, so watched inodes are found by number (ilookup5 with a "has marks" test).
 * 2. The same makes the guest's OWN changes miss its watchers: a process creating a file in a
 *    watched folder looks the folder up afresh and fsnotify() reaches an inode nobody marked. A
 *    superblock mark of our own group sees every local event on the share; when its folder inode
 *    has no marks, the event is raised again on the watched inodes of that number (the relay).
 *
 * Echoes: the guest's own change reaches the host through 9p, the host's watcher sees it and sends
 * it back. The superblock mark remembers each local change (folder number, name, written or gone)
 * for ECHO_WINDOW; a host change matching one is dropped, so a guest write is heard once.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/dcache.h>
#include <linux/fsnotify.h>
#include <linux/fsnotify_backend.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/stringhash.h>
#include <linux/jiffies.h>
#include <linux/hash.h>

#define V9FS_MAGIC 0x01021997
#define BF_MAX_LINE 4096
#define BF_MAX_WATCHED 8
#define ECHO_BITS 12
#define ECHO_WINDOW (2 * HZ)
#define BF_LOCAL_MASK (FS_CREATE | FS_DELETE | FS_MOVED_FROM | FS_MOVED_TO | FS_MODIFY | FS_CLOSE_WRITE | FS_ATTRIB)

enum { BF_WRITTEN = 0, BF_GONE = 1 };

static struct fsnotify_group *bf_group;
/* The task raising host events: its events are not the guest's own (no echo entry, no relay). */
static struct task_struct *bf_injector;
static DEFINE_MUTEX(bf_apply_lock);

struct bf_mark {
	struct fsnotify_mark fsn;
	struct list_head list;
};
static LIST_HEAD(bf_marks);
static DEFINE_SPINLOCK(bf_marks_lock);

/* ---- the echo table: a direct-mapped cache of recent local changes ---- */

struct bf_echo {
	struct super_block *sb;
	unsigned long ino;
	u32 nhash;
	unsigned long when[2];
	u8 seen; /* bit per BF_WRITTEN / BF_GONE */
};
static struct bf_echo bf_echoes[1 << ECHO_BITS];
static DEFINE_SPINLOCK(bf_echo_lock);

static int bf_class(u32 mask)
{
	return (mask & (FS_DELETE | FS_MOVED_FROM)) ? BF_GONE : BF_WRITTEN;
}

static struct bf_echo *bf_slot(struct super_block *sb, unsigned long ino, u32 nhash)
{
	return &bf_echoes[hash_long((unsigned long)sb ^ ino ^ ((unsigned long)nhash << 7), ECHO_BITS)];
}

static void bf_remember(struct super_block *sb, unsigned long ino, const struct qstr *name, int cls)
{
	u32 nh = full_name_hash(NULL, name->name, name->len);
	struct bf_echo *e = bf_slot(sb, ino, nh);

	spin_lock(&bf_echo_lock);
	if (e->sb != sb || e->ino != ino || e->nhash != nh) {
		e->sb = sb;
		e->ino = ino;
		e->nhash = nh;
		e->seen = 0;
	}
	e->seen |= 1 << cls;
	e->when[cls] = jiffies;
	spin_unlock(&bf_echo_lock);
}

static bool bf_is_echo(struct super_block *sb, unsigned long ino, const struct qstr *name, int cls)
{
	u32 nh = full_name_hash(NULL, name->name, name->len);
	struct bf_echo *e = bf_slot(sb, ino, nh);
	bool echo;

	spin_lock(&bf_echo_lock);
	echo = e->sb == sb && e->ino == ino && e->nhash == nh && (e->seen & (1 << cls)) &&
	       time_before(jiffies, e->when[cls] + ECHO_WINDOW);
	spin_unlock(&bf_echo_lock);
	return echo;
}

/* ---- watched inodes by number ---- */

struct bf_match {
	unsigned long ino;
	struct inode *skip[BF_MAX_WATCHED];
	int nskip;
};

static int bf_test_marked(struct inode *inode, void *data)
{
	struct bf_match *m = data;
	int i;

	if (inode->i_ino != m->ino || !READ_ONCE(inode->i_fsnotify_marks))
		return 0;
	for (i = 0; i < m->nskip; i++)
		if (m->skip[i] == inode)
			return 0;
	return 1;
}

/* Every inode of @sb numbered @ino that carries fsnotify marks, referenced (bf_put_all them). */
static int bf_watched(struct super_block *sb, unsigned long ino, struct inode **out)
{
	struct bf_match m = { .ino = ino };
	struct inode *inode;

	while (m.nskip < BF_MAX_WATCHED) {
		inode = ilookup5(sb, ino, bf_test_marked, &m);
		if (!inode)
			break;
		out[m.nskip] = inode;
		m.skip[m.nskip++] = inode;
	}
	return m.nskip;
}

static void bf_put_all(struct inode **v, int n)
{
	while (n--)
		iput(v[n]);
}

/* A change of @name in folder @dir, raised on every watched inode of the folder's number, and for
 * content and attribute changes on the watched inodes of @child's number (tail -f, an editor). */
static void bf_raise(u32 mask, u32 cookie, struct inode *dir, const struct qstr *name, struct inode *child)
{
	struct inode *dirs[BF_MAX_WATCHED], *kids[BF_MAX_WATCHED];
	int nd, nk = 0, i;

	nd = bf_watched(dir->i_sb, dir->i_ino, dirs);
	for (i = 0; i < nd; i++) {
		/* Names go with "dirent" events only: a content or attribute change reaches the folder's
		 * watchers as an event on the child (FS_EVENT_ON_CHILD), as fsnotify_parent() sends it. */
		if (child && !(mask & ALL_FSNOTIFY_DIRENT_EVENTS))
			fsnotify(mask | FS_EVENT_ON_CHILD, child, FSNOTIFY_EVENT_INODE, dirs[i], name, child, 0);
		else
			fsnotify(mask, dirs[i], FSNOTIFY_EVENT_INODE, dirs[i], name, NULL, cookie);
	}
	if (child && (mask & (FS_MODIFY | FS_CLOSE_WRITE | FS_ATTRIB)))
		nk = bf_watched(child->i_sb, child->i_ino, kids);
	for (i = 0; i < nk; i++)
		if (kids[i] != child)
			fsnotify(mask & ~FS_ISDIR, kids[i], FSNOTIFY_EVENT_INODE, NULL, NULL, kids[i], 0);
	bf_put_all(kids, nk);
	bf_put_all(dirs, nd);
}

/* ---- the guest's own changes (the superblock mark) ---- */

static int bf_handle_event(struct fsnotify_group *group, u32 mask, const void *data, int data_type,
			   struct inode *dir, const struct qstr *name, u32 cookie,
			   struct fsnotify_iter_info *iter_info)
{
	struct inode *child = fsnotify_data_inode(data, data_type);

	if (READ_ONCE(bf_injector) == current || !dir || !name || !(mask & BF_LOCAL_MASK))
		return 0;
	bf_remember(dir->i_sb, dir->i_ino, name, bf_class(mask));
	/* A folder inode someone marked already got the event; a fresh one needs the relay. The relayed
	 * events land on marked inodes, so they come back here and stop. */
	if (!READ_ONCE(dir->i_fsnotify_marks))
		bf_raise(mask & ~FS_EVENT_ON_CHILD, cookie, dir, name,
			 child && child != dir && !READ_ONCE(child->i_fsnotify_marks) ? child : NULL);
	return 0;
}

static void bf_free_mark(struct fsnotify_mark *fsn)
{
	struct bf_mark *m = container_of(fsn, struct bf_mark, fsn);

	spin_lock(&bf_marks_lock);
	list_del_init(&m->list);
	spin_unlock(&bf_marks_lock);
	kfree(m);
}

static const struct fsnotify_ops bf_ops = {
	.handle_event = bf_handle_event,
	.free_mark = bf_free_mark,
};

/* W <path>: our superblock mark on the share holding @path (once; a remount needs it again). */
static int bf_watch_share(const char *path)
{
	struct path p;
	struct bf_mark *m;
	int err;

	err = kern_path(path, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &p);
	if (err)
		return err;
	if (p.dentry->d_sb->s_magic != V9FS_MAGIC) {
		path_put(&p);
		return -EXDEV;
	}
	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m) {
		path_put(&p);
		return -ENOMEM;
	}
	INIT_LIST_HEAD(&m->list);
	fsnotify_init_mark(&m->fsn, bf_group);
	m->fsn.mask = BF_LOCAL_MASK | FS_EVENT_ON_CHILD;
	err = fsnotify_add_mark(&m->fsn, p.dentry->d_sb, FSNOTIFY_OBJ_TYPE_SB, 0);
	if (!err) {
		spin_lock(&bf_marks_lock);
		list_add(&m->list, &bf_marks);
		spin_unlock(&bf_marks_lock);
	}
	/* the reference of fsnotify_init_mark(); an attached mark lives on the group's list */
	fsnotify_put_mark(&m->fsn);
	path_put(&p);
	return err == -EEXIST ? 0 : err;
}

/* ---- host changes ---- */

static int bf_apply(u32 mask, u32 cookie, char *path)
{
	struct dentry *parent, *child;
	struct inode *kid = NULL;
	struct path pp;
	struct qstr name;
	char *slash;
	int err = 0;

	slash = strrchr(path, '/');
	if (!slash || slash == path || !slash[1] || !(mask & BF_LOCAL_MASK))
		return -EINVAL;
	*slash = '\0';
	name = (struct qstr)QSTR_INIT(slash + 1, strlen(slash + 1));

	err = kern_path(path, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &pp);
	if (err)
		return err;
	parent = pp.dentry;
	if (parent->d_sb->s_magic != V9FS_MAGIC) {
		err = -EXDEV;
		goto out;
	}
	if (bf_is_echo(parent->d_sb, d_inode(parent)->i_ino, &name, bf_class(mask))) {
		err = -EEXIST;
		goto out;
	}

	/* Drop what the guest cached for the entry (stale dentries after a delete or rename, mmap'd
	 * pages after a modify) so the next access asks the host. */
	child = d_hash_and_lookup(parent, &name);
	if (!IS_ERR_OR_NULL(child)) {
		if (d_really_is_positive(child) && (mask & (FS_MODIFY | FS_CLOSE_WRITE)))
			invalidate_inode_pages2(d_inode(child)->i_mapping);
		if (mask & (FS_CREATE | FS_DELETE | FS_MOVED_FROM | FS_MOVED_TO))
			d_invalidate(child);
		dput(child);
	}
	child = NULL;
	if (mask & (FS_MODIFY | FS_CLOSE_WRITE | FS_ATTRIB)) {
		child = lookup_one_len_unlocked(name.name, parent, name.len);
		if (IS_ERR(child))
			child = NULL;
		else if (d_really_is_positive(child))
			kid = d_inode(child);
	}
	bf_raise(mask, cookie, d_inode(parent), &name, kid);
	if (child)
		dput(child);
out:
	path_put(&pp);
	return err;
}

static ssize_t bf_write(struct file *file, const char __user *buf, size_t len, loff_t *ppos)
{
	char *line;
	u32 mask, cookie;
	int off = 0, err;
	size_t n = len;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (len == 0 || len > BF_MAX_LINE)
		return -EINVAL;
	line = memdup_user_nul(buf, len);
	if (IS_ERR(line))
		return PTR_ERR(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\0'))
		line[--n] = '\0';

	mutex_lock(&bf_apply_lock);
	WRITE_ONCE(bf_injector, current);
	if (line[0] == 'W' && line[1] == ' ')
		err = bf_watch_share(line + 2);
	else if (sscanf(line, "%x %u %n", &mask, &cookie, &off) == 2 && off > 0 && line[off] == '/')
		err = bf_apply(mask, cookie, line + off);
	else
		err = -EINVAL;
	WRITE_ONCE(bf_injector, NULL);
	mutex_unlock(&bf_apply_lock);
	kfree(line);
	return err ? err : len;
}

static const struct file_operations bf_fops = {
	.owner = THIS_MODULE,
	.write = bf_write,
	.llseek = noop_llseek,
};

static struct miscdevice bf_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "berth-fsnotify",
	.fops = &bf_fops,
	.mode = 0600,
};

static int __init bf_init(void)
{
	int err;

	bf_group = fsnotify_alloc_group(&bf_ops, 0);
	if (IS_ERR(bf_group))
		return PTR_ERR(bf_group);
	err = misc_register(&bf_dev);
	if (err)
		fsnotify_put_group(bf_group);
	return err;
}

static void __exit bf_exit(void)
{
	struct bf_mark *m;

	misc_deregister(&bf_dev);
	for (;;) {
		bool got = false;

		spin_lock(&bf_marks_lock);
		m = list_first_entry_or_null(&bf_marks, struct bf_mark, list);
		if (m) {
			list_del_init(&m->list);
			got = refcount_inc_not_zero(&m->fsn.refcnt);
		}
		spin_unlock(&bf_marks_lock);
		if (!m)
			break;
		if (got) {
			fsnotify_destroy_mark(&m->fsn, bf_group);
			fsnotify_put_mark(&m->fsn);
		}
	}
	/* free_mark runs from the marks' reaper: wait for it before this code goes away */
	fsnotify_wait_marks_destroyed();
	fsnotify_put_group(bf_group);
}

module_init(bf_init);
module_exit(bf_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("File events for host-side changes on Berth's 9p shares, and the guest's own");
