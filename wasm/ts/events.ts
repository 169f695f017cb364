/** What the implementations accept: a listener of any event map's overload, or a plain one. */
type Listener = EventListenerOrEventListenerObject | ((this: never, ev: never) => unknown) | null;

/**
 * An EventTarget whose addEventListener and removeEventListener know the events of `M` (a map from
 * event type to event), so a listener gets the precise event. GlimpseViewer and GlimpseSharer extend
 * it with their event maps.
 */
export class TypedEventTarget<M extends { [K in keyof M]: Event }> extends EventTarget {
  override addEventListener<K extends keyof M & string>(
    type: K,
    listener: (this: this, ev: M[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: Listener, options?: boolean | AddEventListenerOptions): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  override removeEventListener<K extends keyof M & string>(
    type: K,
    listener: (this: this, ev: M[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
  override removeEventListener(type: string, listener: Listener, options?: boolean | EventListenerOptions): void {
    super.removeEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }
}
