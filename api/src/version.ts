/** The API's own version (api/package.json's; a test keeps them equal). */
export const API_VERSION = '0.1.0';
