# One image for api and worker (the command chooses).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY . .
ENV NODE_ENV=production
EXPOSE 3000
CMD ["node", "-r", "@swc-node/register", "apps/api/src/main.ts", "--api-only"]
