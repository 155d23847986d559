/** The environment variable that names the database (kept apart from pg so flags load without it). */
export const DATABASE_URL_ENV = 'KUBECHAT_DATABASE_URL';
