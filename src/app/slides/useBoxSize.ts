// The width and height of a box, kept current with a ResizeObserver: slide charts fill the space the
// headline and takeaway leave them, whatever the screen.

import { useEffect, useRef, useState, type RefObject } from 'react';

export interface BoxSize {
  readonly width: number;
  readonly height: number;
}

export function useBoxSize<T extends HTMLElement>(fallback: BoxSize = { width: 960, height: 420 }): [RefObject<T | null>, BoxSize] {
  const ref = useRef<T>(null);
  const [size, setSize] = useState<BoxSize>(fallback);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const measure = () =>
      setSize((previous) => {
        const width = Math.floor(element.clientWidth);
        const height = Math.floor(element.clientHeight);
        return width === previous.width && height === previous.height ? previous : { width, height };
      });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, size];
}
