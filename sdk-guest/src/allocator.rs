//! The allocator plugins run with: small blocks from per-size free lists,
//! everything else from the system allocator (wasi-libc's dlmalloc).
//!
//! A transform or converter allocates and frees a few small strings and
//! vectors per record, and a general-purpose allocator spends more time on
//! each of those than the plugin spends on the record (about 20% of a
//! transform chain's time went to dlmalloc and dlfree). Rust hands
//! `dealloc` the block's layout, so a block needs no header: its size class
//! says which free list it goes back to, and allocating is popping that list.
//!
//! Freed small blocks stay in their class for reuse; they are not returned
//! to dlmalloc. A plugin's memory for small blocks is therefore its peak use
//! of each class, which for batch processing is what the next batch needs
//! again anyway.
//!
//! Not every block a plugin frees came from this allocator: lists the host
//! hands a plugin are allocated through `cabi_realloc`, which is
//! wasi-libc's (plain dlmalloc, at their exact size), and Rust frees them
//! through the global allocator. Such a block must go back to dlmalloc: put
//! on a free list it would later be handed out as a whole size class,
//! larger than it is, and overwrite its neighbour. So chunks are aligned to
//! their size, and a map of which chunk-sized regions are ours tells a
//! block of this allocator from a foreign one.
//!
//! WebAssembly components without the threads proposal are single-threaded,
//! so the lists need no lock. The allocator is only installed there (see
//! lib.rs); native builds of the SDK, such as its unit tests, use the system
//! allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// The smallest class: every block is aligned to it.
const MIN_BLOCK: usize = 16;
/// Classes of 16, 32, ... 2048 bytes.
const CLASSES: usize = 8;
const MAX_BLOCK: usize = MIN_BLOCK << (CLASSES - 1);
/// What is taken from the system allocator at a time to cut blocks from,
/// aligned to its size.
const CHUNK: usize = 64 * 1024;

struct Lists {
    /// The first free block of each class; a free block holds the address
    /// of the next one.
    free: [*mut u8; CLASSES],
    /// The unused rest of the current chunk.
    next: *mut u8,
    end: *mut u8,
    chunks: Chunks,
}

/// Which chunk-sized regions of memory are this allocator's chunks.
#[cfg(target_pointer_width = "32")]
struct Chunks {
    /// One bit per 64 KiB region of the 4 GiB a 32-bit pointer reaches
    /// (8 KiB in all).
    bits: [u64; REGIONS / 64],
}

/// The chunk-sized regions a 32-bit pointer reaches.
#[cfg(target_pointer_width = "32")]
const REGIONS: usize = usize::MAX / CHUNK + 1;

#[cfg(target_pointer_width = "32")]
impl Chunks {
    const fn new() -> Self {
        Chunks {
            bits: [0; REGIONS / 64],
        }
    }

    fn add(&mut self, chunk: *mut u8) {
        let region = chunk as usize / CHUNK;
        self.bits[region / 64] |= 1 << (region % 64);
    }

    #[inline]
    fn contains(&self, block: *mut u8) -> bool {
        let region = block as usize / CHUNK;
        self.bits[region / 64] & (1 << (region % 64)) != 0
    }
}

/// Native builds (the SDK's unit tests) have too wide an address space for
/// a bitmap; they keep a list.
#[cfg(not(target_pointer_width = "32"))]
struct Chunks {
    regions: Vec<usize>,
}

#[cfg(not(target_pointer_width = "32"))]
impl Chunks {
    const fn new() -> Self {
        Chunks {
            regions: Vec::new(),
        }
    }

    fn add(&mut self, chunk: *mut u8) {
        self.regions.push(chunk as usize / CHUNK);
    }

    fn contains(&self, block: *mut u8) -> bool {
        self.regions.contains(&(block as usize / CHUNK))
    }
}

/// The allocator the SDK installs as a plugin's `#[global_allocator]` (the
/// `size-class-allocator` feature): small blocks from per-size free lists,
/// larger or over-aligned ones from the system allocator. It takes no lock,
/// so it is only sound where calls cannot overlap, as in a WebAssembly
/// component without threads.
pub struct SizeClassAllocator {
    lists: UnsafeCell<Lists>,
}

// SAFETY: only installed on single-threaded WebAssembly (no `atomics`
// target feature), where no two calls can overlap.
unsafe impl Sync for SizeClassAllocator {}

impl SizeClassAllocator {
    /// An allocator with empty free lists, which takes nothing from the
    /// system allocator until the first allocation; `const`, so that it can
    /// initialise a `static`.
    pub const fn new() -> Self {
        SizeClassAllocator {
            lists: UnsafeCell::new(Lists {
                free: [ptr::null_mut(); CLASSES],
                next: ptr::null_mut(),
                end: ptr::null_mut(),
                chunks: Chunks::new(),
            }),
        }
    }
}

impl Default for SizeClassAllocator {
    fn default() -> Self {
        Self::new()
    }
}

/// The class of a layout, or `None` for one the system allocator serves.
#[inline]
fn class(layout: Layout) -> Option<usize> {
    let size = layout.size();
    if size > MAX_BLOCK || layout.align() > MIN_BLOCK {
        return None;
    }
    // The bits of `size - 1` say which power of two holds `size`.
    let bits = (usize::BITS - size.saturating_sub(1).leading_zeros()) as usize;
    Some(bits.max(MIN_BLOCK.trailing_zeros() as usize) - MIN_BLOCK.trailing_zeros() as usize)
}

unsafe impl GlobalAlloc for SizeClassAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class(layout) else {
            // SAFETY: the caller's contract is passed on unchanged.
            return unsafe { System.alloc(layout) };
        };
        // SAFETY: single-threaded (see the `Sync` impl), and no reference
        // to the lists outlives this call.
        let lists = unsafe { &mut *self.lists.get() };
        let head = lists.free[class];
        if !head.is_null() {
            // SAFETY: a free block of this class holds the next one's
            // address, written by `dealloc`, and is aligned for it.
            lists.free[class] = unsafe { *(head as *mut *mut u8) };
            return head;
        }
        let size = MIN_BLOCK << class;
        if (lists.end as usize) - (lists.next as usize) < size {
            // SAFETY: a non-zero size and a valid (power of two) alignment.
            let chunk = unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, CHUNK)) };
            if chunk.is_null() {
                return chunk;
            }
            lists.chunks.add(chunk);
            lists.next = chunk;
            // SAFETY: the end of the chunk just allocated.
            lists.end = unsafe { chunk.add(CHUNK) };
        }
        let block = lists.next;
        // SAFETY: `size` bytes remain in the chunk (checked above).
        lists.next = unsafe { block.add(size) };
        block
    }

    #[inline]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let lists = unsafe { &mut *self.lists.get() };
        let class = match class(layout) {
            Some(class) if lists.chunks.contains(block) => class,
            // A large block, or one that `cabi_realloc` (dlmalloc) made.
            // SAFETY: a block outside our chunks came from `System`.
            _ => return unsafe { System.dealloc(block, layout) },
        };
        // SAFETY: the block is at least 16 bytes, 16-aligned and now ours.
        unsafe { *(block as *mut *mut u8) = lists.free[class] };
        lists.free[class] = block;
    }

    #[inline]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` with this alignment is a
        // valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as in `alloc`.
        let ours = unsafe { &*self.lists.get() }.chunks.contains(block);
        if !ours {
            // A block of dlmalloc's (see `dealloc`) stays with dlmalloc.
            // SAFETY: the caller's contract is passed on unchanged.
            return unsafe { System.realloc(block, layout, new_size) };
        }
        match (class(layout), class(new_layout)) {
            // Still fits its block.
            (Some(old), Some(new)) if old == new => block,
            _ => {
                // SAFETY: as `GlobalAlloc::realloc`'s default: a new block,
                // the contents copied, the old block freed.
                unsafe {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fall_in_the_smallest_class_that_holds_them() {
        let class_of = |size| class(Layout::from_size_align(size, 1).unwrap());
        assert_eq!(class_of(1), Some(0));
        assert_eq!(class_of(16), Some(0));
        assert_eq!(class_of(17), Some(1));
        assert_eq!(class_of(32), Some(1));
        assert_eq!(class_of(33), Some(2));
        assert_eq!(class_of(2048), Some(7));
        assert_eq!(class_of(2049), None);
        assert_eq!(class(Layout::from_size_align(8, 32).unwrap()), None);
    }

    #[test]
    fn blocks_are_reused_distinct_and_keep_their_contents() {
        let a = SizeClassAllocator::new();
        let layout = Layout::from_size_align(24, 8).unwrap();
        unsafe {
            let blocks: Vec<*mut u8> = (0..5000).map(|_| a.alloc(layout)).collect();
            for (i, &b) in blocks.iter().enumerate() {
                assert_eq!(b as usize % MIN_BLOCK, 0);
                ptr::write_bytes(b, i as u8, 24);
            }
            for (i, &b) in blocks.iter().enumerate() {
                assert!(
                    (0..24).all(|k| *b.add(k) == i as u8),
                    "block {i} was overwritten"
                );
            }
            let freed = blocks[17];
            a.dealloc(freed, layout);
            assert_eq!(a.alloc(layout), freed);
            // Growing within the class keeps the block; past it moves it
            // with its contents.
            let grown = a.realloc(blocks[3], layout, 32);
            assert_eq!(grown, blocks[3]);
            let moved = a.realloc(grown, Layout::from_size_align(32, 8).unwrap(), 100);
            assert!((0..24).all(|k| *moved.add(k) == 3));
            let big = a.alloc(Layout::from_size_align(10_000, 8).unwrap());
            assert!(!big.is_null());
            a.dealloc(big, Layout::from_size_align(10_000, 8).unwrap());
        }
    }

    /// A list the host hands a plugin is dlmalloc's, at its exact size
    /// (wasi-libc's `cabi_realloc`), and Rust frees it here: it must go
    /// back to the system, never onto a free list, where it would later be
    /// handed out as a whole, larger, size class.
    #[test]
    fn blocks_from_the_system_go_back_to_it() {
        let a = SizeClassAllocator::new();
        let exact = Layout::from_size_align(20, 1).unwrap();
        unsafe {
            let ours = a.alloc(exact);
            let foreign = System.alloc(exact);
            a.dealloc(foreign, exact);
            assert!(
                (*a.lists.get()).free.iter().all(|&head| head != foreign),
                "a foreign block was put on a free list"
            );
            // Growing a foreign block within the class still moves it
            // through the system allocator, which knows its real size.
            let foreign = System.alloc(exact);
            let grown = a.realloc(foreign, exact, 32);
            a.dealloc(grown, Layout::from_size_align(32, 1).unwrap());
            a.dealloc(ours, exact);
            assert_eq!(a.alloc(exact), ours, "our own block is reused");
        }
    }
}
