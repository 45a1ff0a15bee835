// A tiny listener set, shared by both backends.

export class Listeners<T> {
  private set = new Set<(v: T) => void>();

  add(cb: (v: T) => void): () => void {
    this.set.add(cb);
    return () => {
      this.set.delete(cb);
    };
  }

  emit(v: T): void {
    for (const cb of [...this.set]) {
      try {
        cb(v);
      } catch (e) {
        console.error(e);
      }
    }
  }

  get size(): number {
    return this.set.size;
  }
}
