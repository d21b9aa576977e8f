/** The part of `content-disposition` (Express's parser) the tests use to read our headers back. */
declare module 'content-disposition' {
  interface ContentDisposition {
    type: string;
    parameters: Record<string, string>;
  }
  const contentDisposition: { parse(header: string): ContentDisposition };
  export default contentDisposition;
}
